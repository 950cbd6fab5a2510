from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from viewflow.workflow.models import Process, Task

from cases.admin import CodeListFilter, ReadOnlyAdmin
from cases.labels import (
    TASK_STATUSES,
    decision_label,
    role_label,
    task_kind_label,
    task_status_label,
)
from organizations.models import Role

from .models import CaseTask, WorkingDayOverride

# viewflow registers its own process and task admin, which edits and deletes them: a live
# case's task changed there leaves no trail event. Ours (read-only) stands in for it.
for _model in (Process, Task):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(WorkingDayOverride)
class WorkingDayOverrideAdmin(admin.ModelAdmin):
    """The official calendar's holidays and make-up working days (调休) for a year the
    `chinese-calendar` package does not know yet, or a local day off."""

    list_display = ["date", "is_working_day", "note"]
    list_filter = ["is_working_day"]
    date_hierarchy = "date"
    ordering = ["-date"]


class TaskStatusFilter(CodeListFilter):
    title = _("status")
    parameter_name = "status"

    def choices_with_labels(self):
        return list(TASK_STATUSES.items())


class CandidateRoleFilter(CodeListFilter):
    title = _("candidate role")
    parameter_name = "candidate_role"

    def choices_with_labels(self):
        return Role.choices


@admin.register(CaseTask)
class CaseTaskAdmin(ReadOnlyAdmin):
    """Tasks change only through the approval services (with trail and notifications)."""

    list_display = (
        "id",
        "case",
        "step_name",
        "status_name",
        "owner",
        "role_name",
        "due_at",
        "created",
    )
    list_filter = (TaskStatusFilter, CandidateRoleFilter)
    search_fields = ("case__number", "owner__username")
    list_select_related = ("case", "owner")
    # viewflow's generic links (unused by the cases' tasks) stay out; its data is shown under
    # a label of ours.
    exclude = (
        "owner_permission_content_type",
        "owner_permission_obj_pk",
        "seed_content_type",
        "seed_object_id",
        "artifact_content_type",
        "artifact_object_id",
        "data",
    )
    readonly_fields = (
        "step_name",
        "status_name",
        "role_name",
        "decision_name",
        "kind_name",
        "task_data",
    )
    # Codes shown by their labels, where the code would be.
    LABELLED = {"decision": "decision_name", "kind": "kind_name"}

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return [self.LABELLED.get(f, f) for f in fields if f not in self.LABELLED.values()]

    @admin.display(description=_("step"), ordering="flow_task")
    def step_name(self, obj):
        return getattr(obj.flow_task, "task_title", None) or obj.flow_task or ""

    @admin.display(description=_("status"), ordering="status")
    def status_name(self, obj):
        return task_status_label(obj.status)

    @admin.display(description=_("candidate role"), ordering="candidate_role")
    def role_name(self, obj):
        return role_label(obj.candidate_role) if obj.candidate_role else ""

    @admin.display(description=_("decision"), ordering="decision")
    def decision_name(self, obj):
        return decision_label(obj.decision) if obj.decision else ""

    @admin.display(description=_("kind"), ordering="kind")
    def kind_name(self, obj):
        return task_kind_label(obj.kind)

    @admin.display(description=_("data"))
    def task_data(self, obj):
        return obj.data
