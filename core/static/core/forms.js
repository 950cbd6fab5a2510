// Validate as you type where it is cheap (the browser's own constraints), and show the
// message next to the field; the server checks everything again.
document.addEventListener("input", (event) => {
  const field = event.target;
  if (!field.willValidate || !field.form || !field.form.classList.contains("stack")) return;
  const holder = document.getElementById(field.id + "-live-error");
  if (!holder) return;
  const valid = field.checkValidity();
  field.setAttribute("aria-invalid", valid ? "false" : "true");
  holder.textContent = valid ? "" : field.validationMessage;
});
// Buttons that act on many rows (bulk claim) need at least one row ticked.
document.addEventListener("change", (event) => {
  const form = event.target.form;
  if (!form || !form.dataset.needsSelection) return;
  const any = form.querySelector("input[type=checkbox][name=task]:checked");
  form.querySelectorAll("[data-needs-selection]").forEach((b) => (b.disabled = !any));
});
// The language switch applies at once (an attribute, not an inline handler: the content
// security policy runs no inline script).
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field.matches("select[data-autosubmit]") && field.form) field.form.submit();
});
