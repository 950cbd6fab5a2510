"""The baseline of the engine benchmark: a bare viewflow flow of the same shape as one step of
ours — start → an approval (a human View task, claimed then completed) → If → end — on
viewflow's own Process and Task models, with no trail, no notifications, no outbox.

`cycle()` drives one case through it with viewflow's activation API, one transaction per
operation and the same row lock as our flows, as a plain viewflow application would."""

from django.db import transaction
from django.http import Http404
from viewflow import this
from viewflow.workflow import flow
from viewflow.workflow.lock import SelectForUpdateLock
from viewflow.workflow.models import Task


def _no_view(request, **kwargs):
    """The benchmark drives the task directly; bench.baseline has no URLs, so nothing serves
    this view."""
    raise Http404


class BaselineFlow(flow.Flow):
    """Bare viewflow: one approval step."""

    lock_impl = SelectForUpdateLock(nowait=False, attempts=1)

    start = flow.StartHandle(this.start_process).Next(this.approval)
    approval = flow.View(_no_view).Next(this.decided)
    decided = flow.If(this.is_approved).Then(this.approved).Else(this.rejected)
    approved = flow.End()
    rejected = flow.End()

    def start_process(self, activation, *, title):
        activation.process.data = {"title": title}
        return activation.process

    def is_approved(self, activation):
        return activation.process.data.get("decision") == "approve"


def start(title="baseline"):
    with transaction.atomic():
        return BaselineFlow.start.run(title=title)


def claim(task_id, user):
    task = Task.objects.get(pk=task_id)
    with transaction.atomic(), BaselineFlow.lock(task.process_id):
        task.refresh_from_db()
        BaselineFlow.approval.activation_class(task).assign(user)
    return task


def complete(task_id, user, decision="approve"):
    task = Task.objects.get(pk=task_id)
    with transaction.atomic(), BaselineFlow.lock(task.process_id):
        task.refresh_from_db()
        process = task.process
        process.data = {**process.data, "decision": decision}
        process.save(update_fields=["data"])
        activation = BaselineFlow.approval.activation_class(task)
        activation.start(None)
        activation.execute()
    return task


# What cycle() does, each in its own transaction: start, claim, complete.
OPERATIONS_PER_CYCLE = 3


def cycle(user, decision="approve"):
    """One case through the baseline flow; returns its process."""
    process = start()
    task = Task.objects.get(process=process, flow_task=BaselineFlow.approval)
    claim(task.pk, user)
    complete(task.pk, user, decision)
    process.refresh_from_db()
    return process
