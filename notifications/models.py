"""The in-app inbox, webhook endpoints and the outbox of deliveries (email, webhook).

Deliveries are written in the business transaction together with the change that caused
them and sent by Celery after commit; see notifications.services."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Notification(models.Model):
    """One inbox row: something a user should know about, at most once per event."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
        db_index=False,  # the inbox index starts with recipient
    )
    case = models.ForeignKey(
        "cases.Case",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("case"),
    )
    event = models.CharField(
        _("event"),
        max_length=200,
        help_text=_("Key of the domain event that caused this; a repeat is ignored."),
    )
    verb = models.CharField(_("verb"), max_length=50)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    # Decimal amounts and dates in `data` are stored as strings rather than refused.
    data = models.JSONField(_("data"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "recipient"], name="notif_uniq_event_recipient"
            )
        ]
        indexes = [
            models.Index(fields=["recipient", "read_at", "-created_at"], name="notif_inbox_idx")
        ]

    def __str__(self):
        return self.title

    @property
    def is_read(self):
        return self.read_at is not None


class WebhookEndpoint(models.Model):
    """A URL (often a group-chat robot) that receives the events of an organization's cases."""

    organization = models.ForeignKey(
        "organizations.Organization",
        models.CASCADE,
        related_name="webhook_endpoints",
        verbose_name=_("organization"),
    )
    name = models.CharField(_("name"), max_length=100)
    # What the sender posts to (notifications.channels): an ftp:// address was accepted here
    # and then failed every delivery.
    url = models.URLField(
        _("URL"), max_length=500, validators=[URLValidator(schemes=["http", "https"])]
    )
    secret = models.CharField(
        _("secret"),
        max_length=200,
        blank=True,
        help_text=_(
            "If set, every request carries X-Unionflow-Signature: sha256=<HMAC-SHA256 of the body>."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    include_descendants = models.BooleanField(
        _("include lower organizations"),
        default=True,
        help_text=_("Also post the events of cases of organizations below this one."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["organization_id", "name"]

    def __str__(self):
        return self.name


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    WEBHOOK = "webhook", _("Webhook")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("delivery", "Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Delivery(models.Model):
    """One message to send through one channel (the outbox). The payload is rendered when the
    row is written, so sending needs nothing but this row (and the endpoint for a webhook)."""

    event = models.CharField(_("event"), max_length=200)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recipient"),
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
        verbose_name=_("webhook endpoint"),
    )
    dedupe_key = models.CharField(
        _("deduplication key"),
        max_length=255,
        help_text=_("event|channel|target: one delivery per event and target."),
    )
    payload = models.JSONField(_("payload"), default=dict, encoder=DjangoJSONEncoder)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(channel=Channel.EMAIL, recipient__isnull=False, endpoint__isnull=True)
                    | Q(channel=Channel.WEBHOOK, endpoint__isnull=False, recipient__isnull=True)
                ),
                name="notif_delivery_target",
            ),
            # A constraint, not `unique=True`, which would add a pattern-ops index as well.
            models.UniqueConstraint(fields=["dedupe_key"], name="notif_delivery_dedupe_key"),
        ]
        indexes = [
            # The sweep only ever scans pending rows; sent ones pile up and must not slow it.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="notif_delivery_due_idx",
            ),
            models.Index(fields=["status", "-created_at"], name="notif_delivery_status_idx"),
        ]

    def __str__(self):
        return self.dedupe_key
