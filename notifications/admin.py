from django.contrib import admin, messages
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from cases.admin import CodeListFilter

from . import services
from .labels import VERBS, verb_label
from .models import Delivery, DeliveryStatus, Notification, WebhookEndpoint


class VerbFilter(CodeListFilter):
    title = _("verb")
    parameter_name = "verb"

    def choices_with_labels(self):
        return sorted(VERBS.items())


def _placed(fields, label, *, code):
    """`fields` with the read-only `label` moved to just after the field `code`."""
    fields = [f for f in fields if f != label]
    at = fields.index(code) + 1 if code in fields else len(fields)
    return [*fields[:at], label, *fields[at:]]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "recipient", "verb_name", "case", "created_at", "read_at"]
    list_filter = [VerbFilter, ("read_at", admin.EmptyFieldListFilter)]
    list_select_related = ["recipient", "case"]
    search_fields = ["title", "event", "recipient__username", "recipient__full_name"]
    raw_id_fields = ["recipient", "case"]
    date_hierarchy = "created_at"
    readonly_fields = ["verb_name"]

    @admin.display(description=_("verb"), ordering="verb")
    def verb_name(self, obj):
        return verb_label(obj.verb)

    def get_fields(self, request, obj=None):
        # The verb's label where the code would be (the list filters by it, search finds it).
        fields = super().get_fields(request, obj)
        return [f for f in _placed(fields, "verb_name", code="verb") if f != "verb"]

    # What a person was told is not rewritten afterwards, nor made up: read-only (deletable).
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "url", "is_active", "include_descendants"]
    list_filter = ["is_active", "include_descendants"]
    list_select_related = ["organization"]
    search_fields = ["name", "url", "organization__name"]
    # A URL typed without a scheme means https (Django 6's default; silences its warning).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "event",
        "channel",
        "status",
        "attempts",
        "next_attempt_at",
        "recipient",
        "endpoint",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "channel"]
    list_select_related = ["recipient", "endpoint"]
    search_fields = ["event", "dedupe_key"]
    date_hierarchy = "created_at"
    actions = ["retry_now"]
    # The outbox is written by notify() and the sender only; the admin looks and retries.
    readonly_fields = [*(f.name for f in Delivery._meta.fields), "verb_name"]

    @admin.display(description=_("verb"))
    def verb_name(self, obj):
        """What the event told (a webhook's payload names it; an email's is that of the inbox
        rows of the same event)."""
        payload = obj.payload if isinstance(obj.payload, dict) else {}
        verb = payload.get("verb") or (
            Notification.objects.filter(event=obj.event).values_list("verb", flat=True).first()
        )
        return verb_label(verb) if verb else ""

    def get_fields(self, request, obj=None):
        return _placed(super().get_fields(request, obj), "verb_name", code="event")

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Retry now (failed deliveries only)"), permissions=["change"])
    def retry_now(self, request, queryset):
        ids = list(queryset.filter(status=DeliveryStatus.FAILED).values_list("pk", flat=True))
        count = services.retry_deliveries(delivery_ids=ids)
        self.message_user(
            request,
            ngettext(
                "%(count)d delivery will be retried.",
                "%(count)d deliveries will be retried.",
                count,
            )
            % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )
