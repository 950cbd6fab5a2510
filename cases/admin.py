from django.contrib import admin

from .models import Case, TrailEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Cases change only through their services, and the trail never changes at all."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "process",
        "status",
        "outcome",
        "organization",
        "applicant",
        "created_at",
    )
    list_filter = ("process", "status")
    search_fields = ("number", "title", "applicant__username", "applicant__full_name")
    list_select_related = ("organization", "applicant")


@admin.register(TrailEvent)
class TrailEventAdmin(ReadOnlyAdmin):
    list_display = ("case", "seq", "at", "action", "step", "actor", "actor_role")
    list_filter = ("action",)
    search_fields = ("case__number",)
    list_select_related = ("case", "actor")
