"""Configured numbers: `parameter("approvals.urge_interval_hours", organization=org, on=date)`.

Lookup order: the organization's own row, then its ancestors' (nearest first), then a row for
everywhere; within each, the latest version effective on `on`. Without any row, the default
from settings.UNIONFLOW_PARAMETERS."""

from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import timezone


def default(key):
    try:
        return Decimal(str(settings.UNIONFLOW_PARAMETERS[key]))
    except KeyError:
        raise KeyError(f"unknown parameter {key!r}: add it to UNIONFLOW_PARAMETERS") from None


def parameter(key, *, organization=None, on=None):
    from .models import Parameter

    default_value = default(key)
    on = on or timezone.localdate()
    paths = []
    if organization is not None:
        steplen = type(organization).steplen
        paths = [organization.path[:i] for i in range(len(organization.path), 0, -steplen)]
    rows = (
        Parameter.objects.filter(key=key, effective_from__lte=on)
        .filter(Q(organization__isnull=True) | Q(organization__path__in=paths))
        .order_by("-effective_from")
        .values_list("organization__path", "value")
    )
    best = {}
    for path, value in rows:
        best.setdefault(path, value)  # latest version per organization
    for path in [*paths, None]:
        if path in best:
            return best[path]
    return default_value
