"""Capture in the trail what viewflow changes on its own — a timer firing, a task cancelled from
the admin or viewflow's views, a job finishing — so that no task state change goes unrecorded.
Changes made through our services set `_trail_handled` on the task and are recorded there,
with the decision and comment, instead."""

from django.db.models.signals import post_init, post_save
from viewflow.workflow.models import Task

from approvals.models import ROUTING_TYPES


def remember_status(sender, instance, **kwargs):
    instance._trail_status = None if instance._state.adding else instance.status


def record_engine_change(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    before = None if created else getattr(instance, "_trail_status", None)
    instance._trail_status = instance.status
    if getattr(instance, "_trail_handled", False) or before == instance.status:
        return
    if instance.flow_task_type in ROUTING_TYPES:
        return
    from .models import Case
    from .trail import append

    case_id = getattr(instance, "case_id", None) or (
        Case.objects.filter(flow_process_id=instance.process_id)
        .values_list("pk", flat=True)
        .first()
    )
    if case_id is None:
        return
    append(
        case_id,
        f"task.{str(instance.status).lower()}",
        task=instance,
        step=getattr(instance.flow_task, "name", ""),
        data={"from": str(before).lower() if before else None, "engine": True},
    )


def connect():
    from approvals.models import CaseTask

    for model in (Task, CaseTask):
        post_init.connect(
            remember_status, sender=model, dispatch_uid=f"trail-init-{model.__name__}"
        )
        post_save.connect(
            record_engine_change, sender=model, dispatch_uid=f"trail-save-{model.__name__}"
        )
