// The application form shows the child's fields only for education aid and the costs field
// only for a sudden hardship — unless they hold a value or an error, so nothing typed or
// refused is hidden. Without JavaScript every field is shown.
(function () {
  const form = document.getElementById("hardship-apply");
  if (!form) return;
  const aid = form.querySelector("#id_aid_type");
  const sudden = form.querySelector("#id_accident_or_illness");
  const groups = form.querySelectorAll("[data-show-when]");
  const holdsSomething = (group) =>
    Array.from(group.querySelectorAll("input:not([type=checkbox]), textarea")).some((i) => i.value.trim()) ||
    Array.from(group.querySelectorAll(".error")).some((e) => e.textContent.trim());
  function update() {
    groups.forEach((group) => {
      const wanted = group.dataset.showWhen === "education" ? aid.value === "education" : sudden.checked;
      group.hidden = !(wanted || holdsSomething(group));
    });
  }
  aid.addEventListener("change", update);
  sudden.addEventListener("change", update);
  update();
})();
