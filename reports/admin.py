from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import ExportJob, TrailVerification


class ReadOnly(admin.ModelAdmin):
    """Records of what happened: looked at, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnly):
    list_display = (
        "id",
        "kind",
        "format",
        "status",
        "attempts",
        "created_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("kind", "format", "status")
    search_fields = ("created_by__username", "filename")
    date_hierarchy = "created_at"


@admin.register(TrailVerification)
class TrailVerificationAdmin(ReadOnly):
    list_display = ("finished_at", "source", "cases", "events", "broken_count", "duration")
    list_filter = ("source",)
    date_hierarchy = "finished_at"

    @admin.display(description=_("broken chains"))
    def broken_count(self, obj):
        return len(obj.broken)

    def has_delete_permission(self, request, obj=None):
        return False
