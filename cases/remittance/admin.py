from django.contrib import admin

from cases.admin import ReadOnlyAdmin

from .models import ImportJob, Remittance


@admin.register(Remittance)
class RemittanceAdmin(ReadOnlyAdmin):
    list_display = (
        "case",
        "organization",
        "period",
        "fund_due",
        "upper_share",
        "paid_on",
        "late_fee",
    )
    list_filter = ("period",)
    search_fields = ("case__number", "organization__name")
    list_select_related = ("case", "organization")


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = ("filename", "created_by", "status", "attempts", "total_rows", "created_at")
    exclude = ("content",)
