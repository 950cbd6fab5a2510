from django.contrib import admin

from cases.admin import ReadOnlyAdmin

from .models import MediationCase, MediatorConflict, Recusal


@admin.register(MediatorConflict)
class MediatorConflictAdmin(admin.ModelAdmin):
    """Conflicts of interest are kept by the administrators; assignment refuses them."""

    list_display = ("mediator", "employer_name", "employer_credit_code", "note", "created_at")
    search_fields = (
        "mediator__username",
        "mediator__full_name",
        "employer_name",
        "employer_credit_code",
    )
    autocomplete_fields = ("mediator",)
    list_select_related = ("mediator",)


@admin.register(MediationCase)
class MediationCaseAdmin(ReadOnlyAdmin):
    list_display = (
        "case",
        "employer_name",
        "category",
        "statutory_deadline",
        "mediator",
        "effective_at",
    )
    list_filter = ("category", "channel")
    search_fields = ("case__number", "employer_name", "employer_credit_code")
    list_select_related = ("case", "mediator")
    # The ID number stays out of the admin: it is shown masked in the API to most readers.
    exclude = ("applicant_id_number", "applicant_id_index")


@admin.register(Recusal)
class RecusalAdmin(ReadOnlyAdmin):
    list_display = ("case", "mediator", "party", "status", "requested_at", "decided_at")
    list_filter = ("status",)
    list_select_related = ("case", "mediator")
