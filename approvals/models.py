from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

OPEN_STATUSES = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)


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
        "organizations.Organization", models.PROTECT, null=True, blank=True, related_name="+"
    )
    candidate_role = models.CharField(_("candidate role"), max_length=20, blank=True)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    decision = models.CharField(_("decision"), max_length=20, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            models.Index(
                fields=["candidate_organization", "candidate_role"], name="casetask_candidates"
            ),
            models.Index(fields=["case"], name="casetask_case"),
            models.Index(fields=["due_at"], name="casetask_due"),
        ]

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES
