"""Officer pages: the task inbox / queue / archive and the task page with every operation.
Each POST calls the same service as the API; a refused operation shows its reason."""

from django.contrib import messages
from django.db.models import F
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from cases.views import case_context
from core.errors import DomainError
from core.ui import OnceForm, form_error, once, page, refuse

from . import selectors, services
from .forms import (
    AddApproverForm,
    CCForm,
    DecisionForm,
    DelegationForm,
    SendBackForm,
    TransferForm,
    UrgeForm,
)
from .models import OPEN_STATUSES, Delegation, TaskKind

VIEWS = {"inbox": selectors.inbox, "queue": selectors.queue, "archive": selectors.archive}


@require_safe
@page("tasks")
def task_list(request):
    view = request.GET.get("view", "inbox")
    if view not in VIEWS:
        view = "inbox"
    tasks = VIEWS[view](request.user)
    process, step, overdue = (request.GET.get(k, "") for k in ("process", "step", "overdue"))
    if process:
        tasks = tasks.filter(case__process=process)
    if step:
        tasks = tasks.filter(selectors.step_q(step))
    if overdue == "1":
        tasks = tasks.filter(selectors.overdue_q())
    if view == "archive":
        tasks = tasks.order_by("-finished", "-pk")
    elif request.GET.get("sort") == "created":
        tasks = tasks.order_by("created", "pk")
    else:
        tasks = tasks.order_by(F("due_at").asc(nulls_last=True), "created", "pk")
    counts = {name: fn(request.user).count() for name, fn in VIEWS.items()}
    return render(
        request,
        "approvals/task_list.html",
        {
            "tasks": tasks[:200],
            "view": view,
            "counts": counts,
            "filters": {
                "process": process,
                "step": step,
                "overdue": overdue,
                "sort": request.GET.get("sort", ""),
            },
            "now": timezone.now(),
        },
    )


@require_POST
@page("tasks")
def bulk_claim(request):
    claimed, refused = 0, []
    for task_id in request.POST.getlist("task"):
        try:
            services.claim(task_id=int(task_id), user=request.user)
            claimed += 1
        except (DomainError, ValueError) as exc:
            refused.append(f"#{task_id}: {getattr(exc, 'detail', exc)}")
    if claimed:
        messages.success(
            request,
            ngettext("Claimed %(n)d task.", "Claimed %(n)d tasks.", claimed) % {"n": claimed},
        )
    for line in refused:
        messages.error(request, line)
    return redirect("task-list")


def _task_or_404(request, pk):
    task = selectors.tasks_in_reach(request.user).filter(pk=pk).first()
    if task is None:
        raise Http404
    return task


OPERATIONS = {
    "transfer": (
        TransferForm,
        lambda f, t, u: services.transfer(task_id=t.pk, user=u, **f.cleaned_data),
    ),
    "add_approver": (
        AddApproverForm,
        lambda f, t, u: services.add_approver(
            task_id=t.pk,
            user=u,
            approver=f.cleaned_data["user"],
            position=f.cleaned_data["position"],
            comment=f.cleaned_data["comment"],
        ),
    ),
    "urge": (UrgeForm, lambda f, t, u: services.urge(task_id=t.pk, user=u, **f.cleaned_data)),
    "cc": (
        CCForm,
        lambda f, t, u: services.cc(
            task_id=t.pk, user=u, users=f.cleaned_data["users"], comment=f.cleaned_data["comment"]
        ),
    ),
}


def _offered(task, user):
    """What the task page offers `user` now — the template shows these forms and only these."""
    mine = task.is_open and task.owner_id == user.pk
    can_claim = task.status == "NEW" and services.may_claim(user, task)
    acting = mine and not task.on_hold
    return {
        "claim": can_claim,
        "decide": acting or can_claim,
        # transfer, add approver, send back, CC, release: on the steps that offer them
        "acting": acting and task.flow_task.officer_operations,
        "urge": task.is_open and not mine and services.may_urge(user, task),
    }


def _form_for(op):
    """The form a POSTed op was made on; operations without fields (claim, release) have none."""
    return "acting" if op in ("transfer", "add_approver", "send_back", "cc", "release") else op


@page("tasks")
def task_detail(request, pk):
    task = _task_or_404(request, pk)
    user = request.user
    offered = _offered(task, user)
    # Even on a closed task: a decision sent from a page opened before a colleague closed it
    # must reach the service, whose refusal says why (an empty choice was a silent 400).
    decisions = services.allowed_decisions(task)
    fields = task.flow_task.fields if task.kind != TaskKind.CONSULT else ()
    send_back_steps = (
        [("applicant", _("the applicant (supplement)"))]
        + [
            (s, task.flow_task.flow_class.instance.node(s).task_title)
            for s in services.earlier_steps(task)
        ]
        if task.flow_task.allow_send_back and task.kind == TaskKind.APPROVAL
        else []
    )
    forms_ = {
        "decide": DecisionForm(decisions=decisions, fields=fields),
        "send_back": SendBackForm(steps=send_back_steps),
        **{name: form_class() for name, (form_class, _call) in OPERATIONS.items()},
    }
    if request.method == "POST":
        op = request.POST.get("op", "")
        try:
            if op == "claim":
                services.claim(task_id=task.pk, user=user)
                messages.success(request, _("You have claimed this task."))
                return redirect("task-detail", pk=task.pk)
            if op == "release":
                services.release(task_id=task.pk, user=user)
                messages.success(request, _("The task is back in the queue."))
                return redirect("task-list")
            if op == "decide":
                form = forms_["decide"] = DecisionForm(
                    request.POST, decisions=decisions, fields=fields
                )
                if form.is_valid():

                    def decide():
                        services.complete(
                            task_id=task.pk,
                            user=user,
                            decision=form.cleaned_data["decision"],
                            comment=form.cleaned_data["comment"],
                            data=form.data_values(),
                        )
                        messages.success(request, _("Your decision has been recorded."))
                        return reverse("case-detail", kwargs={"pk": task.case_id})

                    return redirect(once(request, form, decide))
            elif op == "send_back":
                form = forms_["send_back"] = SendBackForm(request.POST, steps=send_back_steps)
                if form.is_valid():
                    services.send_back(task_id=task.pk, user=user, **form.cleaned_data)
                    messages.success(request, _("The case has been sent back."))
                    return redirect("case-detail", pk=task.case_id)
            elif op in OPERATIONS:
                form_class, call = OPERATIONS[op]
                form = forms_[op] = form_class(request.POST)
                if form.is_valid():

                    def act():
                        done = call(form, task, user)
                        if getattr(done, "newly_copied", None) == []:
                            # A copy to people all copied already: nothing changed.
                            messages.info(
                                request,
                                _("Everyone named had already been copied; nothing was changed."),
                            )
                        else:
                            messages.success(request, _("Done."))
                        return reverse("task-detail", kwargs={"pk": task.pk})

                    # A OnceForm (CC) records once however often the rendered form is sent.
                    if isinstance(form, OnceForm):
                        return redirect(once(request, form, act))
                    return redirect(act())
            else:
                raise Http404
        except DomainError as exc:
            refused = exc
        else:
            refused = None
        task = _task_or_404(request, pk)
        offered = _offered(task, user)
        if refused is not None:
            target = forms_.get(op)
            if target is not None and target.is_bound and offered.get(_form_for(op)):
                form_error(request, target, refused)
            else:  # the form is not shown any more (the task closed meanwhile), or there was
                # none: the page as it is now, saying why
                refuse(request, refused)
    context = case_context(request, task.case)
    context.update(
        {
            "task": task,
            "offered": offered,
            "forms": forms_,
            "open_statuses": OPEN_STATUSES,
        }
    )
    return render(request, "approvals/task_detail.html", context)


@page("delegations")
def delegations(request):
    form = DelegationForm(request.POST or None)
    if request.method == "POST":
        if request.POST.get("revoke"):
            try:
                services.revoke_delegation(
                    user=request.user, delegation_id=int(request.POST["revoke"])
                )
                messages.success(request, _("The delegation has been revoked."))
            except (DomainError, ValueError):
                messages.error(request, _("Delegation not found."))
            return redirect("delegations")
        if form.is_valid():
            values = {k: v for k, v in form.cleaned_data.items() if k != "form_key"}

            def create():
                services.create_delegation(user=request.user, **values)
                messages.success(request, _("Your delegation has been recorded."))
                return reverse("delegations")

            try:
                return redirect(once(request, form, create))
            except DomainError as exc:
                form_error(request, form, exc)
    rows = Delegation.objects.filter(delegator=request.user) | Delegation.objects.filter(
        delegate=request.user
    )
    return render(
        request,
        "approvals/delegations.html",
        {
            "form": form,
            "delegations": rows.select_related("delegator", "delegate").order_by("-starts_at"),
            "now": timezone.now(),
        },
    )
