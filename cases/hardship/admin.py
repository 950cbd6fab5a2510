from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import HardshipApplication, Objection, RegisterEntry


@admin.register(HardshipApplication)
class HardshipApplicationAdmin(admin.ModelAdmin):
    """Read-only: the record changes through the flow, and ID numbers show masked."""

    list_display = [
        "case",
        "kind",
        "aid_type",
        "masked_id_number",
        "proposed_category",
        "requested_amount",
        "approved_amount",
        "disbursed_on",
    ]
    list_filter = ["kind", "aid_type", "proposed_category", "approval_level"]
    search_fields = ["case__number"]
    list_select_related = ["case"]
    exclude = [
        "id_number",
        "id_index",
        "child_id_number",
        "child_index",
        "account_number",
        "account_index",
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in self.exclude] + [
            "masked_id_number",
            "masked_account_number",
        ]

    @admin.display(description=_("resident ID number"))
    def masked_id_number(self, obj):
        return obj.masked_id_number

    @admin.display(description=_("account number"))
    def masked_account_number(self, obj):
        return obj.masked_account_number

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RegisterEntry)
class RegisterEntryAdmin(admin.ModelAdmin):
    list_display = ["id", "member", "organization", "category", "status", "next_review_on"]
    list_filter = ["status", "category"]
    search_fields = ["member__username", "member__full_name", "source_case__number"]
    raw_id_fields = ["member", "organization", "source_case", "review_case", "closed_by_case"]
    exclude = ["id_index"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # entries open and close through cases (with their trail), not here

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Objection)
class ObjectionAdmin(admin.ModelAdmin):
    list_display = ["case", "objector", "lodged_at"]
    raw_id_fields = ["case", "objector"]
    readonly_fields = ["case", "objector", "reason", "lodged_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the trail records it; it is not undone here
