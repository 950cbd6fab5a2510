import uuid

from django.conf import settings
from django.db import models
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from core import statements

OPEN_STATUSES = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)
# Routing nodes (start and end markers, gateways): not state people act on or wait for, so
# neither recorded in the trail nor cancelled on their own when a case moves.
ROUTING_TYPES = (
    "START",
    "HUMAN_START",
    "END",
    "EXCLUSIVE_GATEWAY",
    "PARALLEL_GATEWAY",
    "SWITCH",
)
# Offered to a role at an organization (a queue), claimed or not: CaseTask.queued as a filter.
QUEUED = models.Q(candidate_organization__isnull=False) & ~models.Q(candidate_role="")


class CaseTask(Task):
    """A viewflow task that knows its case, who may take it, and what was decided.

    Multi-table inheritance keeps viewflow's own task table (and so its timers, locks and
    admin) intact, and adds the fields the task API filters and sorts on."""

    case = models.ForeignKey(
        "cases.Case",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("case"),
    )
    # Who may claim an unassigned task: holders of `candidate_role` at `candidate_organization`.
    candidate_organization = models.ForeignKey(
        "organizations.Organization",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # casetask_candidates leads with it
        verbose_name=_("candidate organization"),
    )
    candidate_role = models.CharField(_("candidate role"), max_length=20, blank=True)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    decision = models.CharField(_("decision"), max_length=20, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("completed by"),
    )
    # Tasks of one round of a step (countersign slots, sequential approvers, added approvers)
    # share a batch; the step's mode decides the round from their decisions.
    batch = models.UUIDField(_("batch"), default=uuid.uuid4, db_index=True)
    kind = models.CharField(_("kind"), max_length=12, default="approval")  # approval|added|consult
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    # 加签 before: this task waits until the consulted approver has decided.
    consult_for = models.ForeignKey(
        "self",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="consultations",
        verbose_name=_("consultation for"),
    )
    on_hold = models.BooleanField(_("on hold"), default=False)
    separation_of_duties = models.BooleanField(_("separation of duties"), default=True)
    # The approval level the task decides at (Step.level, else its own step): separation of
    # duties keeps one person to one level of a case. Compared by the queue's SQL.
    duty_level = models.CharField(_("duty level"), max_length=255, blank=True, default="")
    # Steps that record facts rather than decide (a payment) may be done by the applicant.
    applicant_may_act = models.BooleanField(_("applicant may act"), default=False)
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("on behalf of"),
    )
    remind_at = models.DateTimeField(_("reminder due at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminder sent at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    # viewflow's `status` (on its own table), copied onto ours so that one partial index of ours
    # serves the queue (a role's unclaimed tasks) without reading viewflow's table for every
    # task ever offered to the role. Kept equal to `status` by save() below and, for tasks
    # viewflow saves as its base Task, by `copy_status_of_base_task`; a bulk
    # `QuerySet.update(status=…)` would bypass both and must not be used on tasks.
    flow_status = models.CharField(max_length=50, blank=True, default="", editable=False)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            models.Index(
                fields=["candidate_organization", "candidate_role"], name="casetask_candidates"
            ),
            models.Index(fields=["due_at"], name="casetask_due"),
            models.Index(fields=["remind_at"], name="casetask_remind"),
            # The queue: a role's unclaimed tasks, a few among the millions it ever had.
            models.Index(
                fields=["candidate_organization", "candidate_role"],
                name="casetask_unclaimed",
                condition=models.Q(flow_status=STATUS.NEW),
            ),
            # Case reach ("decided a task on it"): the cases a person decided on, read from
            # the index alone.
            models.Index(
                fields=["completed_by", "case"],
                name="casetask_decided_cases",
                condition=models.Q(completed_by__isnull=False),
            ),
        ]

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES

    @property
    def queued(self):
        """Offered to a role at an organization (a queue), claimed or not (QUEUED)."""
        return bool(self.candidate_role and self.candidate_organization_id)

    @property
    def named(self):
        """Given by its step to a person it names (a case's mediator): it carries the step's
        role, but no queue offers it."""
        return bool(self.candidate_role) and not self.candidate_organization_id

    def save(self, *args, **kwargs):
        # Claimed only to be decided in the same operation (services.complete): the decision's
        # save writes the claim too, so this one would be overwritten before anyone sees it.
        if self.__dict__.pop("_claim_saved_with_decision", False):
            return
        # Nodes viewflow creates itself (timers, gateways) learn their case from the process:
        # the one an operation already holds (nodes.case_of), else read.
        if self.case_id is None and self.process_id is not None:
            from cases.models import Case

            case = getattr(self._state.fields_cache.get("process"), "_unionflow_case", None)
            self.case_id = (
                case.pk
                if case is not None and case.flow_process_id == self.process_id
                else Case.objects.filter(flow_process_id=self.process_id)
                .values_list("pk", flat=True)
                .first()
            )
        self.flow_status = self.status
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "status" in update_fields:
            kwargs["update_fields"] = {*update_fields, "flow_status"}
        if not args and not kwargs:
            # What viewflow's Task.save() adds, then the two rows' statements written once
            # (core.statements.save_row) instead of built on every save.
            if self.flow_task and not self.flow_task_type:
                self.flow_task_type = self.flow_task.task_type
            if statements.save_row(self):
                return
        super().save(*args, **kwargs)


def copy_status_of_base_task(sender, instance, created, raw=False, **kwargs):
    """viewflow saves some tasks as its base Task (cancelling a process's open tasks through
    `process.task_set`), which bypasses CaseTask.save: copy their status to our row too."""
    if raw or created:
        return
    flow_class = getattr(instance.flow_task, "flow_class", None)
    if flow_class is None or not issubclass(flow_class.task_class, CaseTask):
        return  # another flow's task (e.g. the benchmark's bare viewflow flow): no row of ours
    CaseTask.objects.filter(pk=instance.pk).exclude(flow_status=instance.status).update(
        flow_status=instance.status
    )


post_save.connect(copy_status_of_base_task, sender=Task, dispatch_uid="casetask-flow-status")


class TaskKind(models.TextChoices):
    APPROVAL = "approval", _("Approval")
    ADDED = "added", _("Added approver")  # 加签 (after / in parallel): must approve too
    CONSULT = "consult", _("Consulted approver")  # 加签 (before): decides first, advisory


class Delegation(models.Model):
    """代理: while `delegator` is away, tasks offered or assigned to them go to `delegate`,
    who acts on their behalf."""

    delegator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        related_name="delegations_given",
        db_index=False,  # the (delegator, starts_at, ends_at) index leads with it
    )
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="delegations_received"
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("delegation")
        verbose_name_plural = _("delegations")
        indexes = [models.Index(fields=["delegator", "starts_at", "ends_at"])]

    def __str__(self):
        return f"{self.delegator} → {self.delegate} ({self.starts_at:%Y-%m-%d}–{self.ends_at:%Y-%m-%d})"


class Urge(models.Model):
    """催办: one reminder sent by a person about a task (rate-limited per task and person)."""

    # The (task, user, at) index leads with it.
    task = models.ForeignKey(CaseTask, models.CASCADE, related_name="urges", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["task", "user", "at"])]

    def __str__(self):
        return f"{self.user} → task {self.task_id} at {self.at}"


class WorkingDayOverride(models.Model):
    """An official working-day status the calendar package does not know yet (a new year's
    holidays and make-up days as announced by the State Council), or a local correction."""

    date = models.DateField(_("date"), unique=True)
    is_working_day = models.BooleanField(_("working day"))
    note = models.CharField(_("note"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("working-day override")
        verbose_name_plural = _("working-day overrides")
        ordering = ["date"]

    def __str__(self):
        return f"{self.date} {'working' if self.is_working_day else 'off'}"
