from django.contrib import admin, messages
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import Delivery, DeliveryStatus, Notification, WebhookEndpoint


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "recipient", "verb", "case", "created_at", "read_at"]
    list_filter = ["verb", ("read_at", admin.EmptyFieldListFilter)]
    list_select_related = ["recipient", "case"]
    search_fields = ["title", "event", "recipient__username", "recipient__full_name"]
    raw_id_fields = ["recipient", "case"]
    date_hierarchy = "created_at"

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
    readonly_fields = [f.name for f in Delivery._meta.fields]

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
