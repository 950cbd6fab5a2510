from django.contrib import admin

from cases.admin import ReadOnlyAdmin

from .models import CaseTask


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
