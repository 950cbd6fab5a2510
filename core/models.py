from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class IdempotencyRecord(models.Model):
    """The first response to a POST sent with an `Idempotency-Key`; a repeat gets it back."""

    # uniq_idempotency_key leads with it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="uniq_idempotency_key")]

    def __str__(self):
        return f"{self.user_id}:{self.key}"


class Parameter(models.Model):
    """A configured number — a rate, threshold or period — for an organization (and its
    subtree) from an effective date. Without a row, the default in settings.UNIONFLOW_PARAMETERS
    applies. Administrators edit these in the admin; code never hard-codes the values."""

    key = models.CharField(_("key"), max_length=100)
    organization = models.ForeignKey(
        "organizations.Organization",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("organization"),
        help_text=_("Empty: applies everywhere unless an organization overrides it."),
    )
    effective_from = models.DateField(_("effective from"))
    value = models.DecimalField(_("value"), max_digits=18, decimal_places=6)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("parameter")
        verbose_name_plural = _("parameters")
        constraints = [
            models.UniqueConstraint(
                fields=["key", "organization", "effective_from"], name="uniq_parameter_version"
            )
        ]
        indexes = [models.Index(fields=["key", "effective_from"])]

    def __str__(self):
        return f"{self.key}={self.value} ({self.organization or '*'}, {self.effective_from})"
