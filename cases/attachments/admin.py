from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from cases.admin import CodeListFilter

from . import policy
from .models import Attachment


class KindFilter(CodeListFilter):
    title = _("kind")
    parameter_name = "kind"

    def choices_with_labels(self):
        return list(policy.kind_labels().items())


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "case",
        "kind_name",
        "original_name",
        "content_type",
        "size",
        "uploaded_at",
    ]
    list_filter = [KindFilter, "content_type"]
    search_fields = ["case__number", "original_name", "sha256"]
    raw_id_fields = ["case", "uploaded_by"]
    # The file and its fingerprint are evidence: not edited here.
    readonly_fields = [
        "case",
        "kind",
        "file",
        "original_name",
        "content_type",
        "size",
        "sha256",
        "uploaded_by",
        "uploaded_at",
    ]

    @admin.display(description=_("kind"), ordering="kind")
    def kind_name(self, obj):
        return policy.kind_labels().get(obj.kind, obj.kind)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # evidence the trail names: an upload is never undone here
