from django.contrib import admin
from viewflow.workflow.models import Process, Task

from cases.admin import ReadOnlyAdmin

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


@admin.register(CaseTask)
class CaseTaskAdmin(ReadOnlyAdmin):
    """Tasks change only through the approval services (with trail and notifications)."""

    list_display = (
        "pk",
        "case",
        "flow_task",
        "status",
        "owner",
        "candidate_role",
        "due_at",
        "created",
    )
    list_filter = ("status", "candidate_role")
    search_fields = ("case__number", "owner__username")
    list_select_related = ("case", "owner")
