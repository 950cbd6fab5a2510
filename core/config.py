"""Configured numbers: `parameter("approvals.urge_interval_hours", organization=org, on=date)`.

Lookup order: the organization's own row, then its ancestors' (nearest first), then a row for
everywhere; within each, the latest version effective on `on`. Without any row, the default
from settings.UNIONFLOW_PARAMETERS."""

from decimal import Decimal

from django.conf import settings
from django.utils import timezone


def default(key):
    try:
        return Decimal(str(settings.UNIONFLOW_PARAMETERS[key]))
    except KeyError:
        raise KeyError(f"unknown parameter {key!r}: add it to UNIONFLOW_PARAMETERS") from None


def parameter(key, *, organization=None, on=None):
    if organization is None:
        from .models import Parameter

        row = (
            Parameter.objects.filter(
                key=key, organization__isnull=True, effective_from__lte=on or timezone.localdate()
            )
            .order_by("-effective_from")
            .values_list("value", flat=True)
            .first()
        )
        return row if row is not None else default(key)
    return parameter_for_each(key, [organization], on=on)[organization.pk]


def parameter_for_each(key, organizations, *, on=None):
    """`parameter(key)` for many organizations in one query: {organization id: value}."""
    from .models import Parameter

    on = on or timezone.localdate()
    rows = (
        Parameter.objects.filter(key=key, effective_from__lte=on)
        .order_by("-effective_from")
        .values_list("organization__path", "value")
    )
    latest = {}
    for path, value in rows:
        latest.setdefault(path, value)
    values = {}
    for org in organizations:
        steplen = type(org).steplen
        paths = [org.path[:i] for i in range(len(org.path), 0, -steplen)]
        values[org.pk] = next((latest[p] for p in [*paths, None] if p in latest), default(key))
    return values
