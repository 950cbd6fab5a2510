"""Configured numbers: `parameter("approvals.urge_interval_hours", organization=org, on=date)`.

Lookup order: the organization's own row, then its ancestors' (nearest first), then a row for
everywhere; within each, the latest version effective on `on`. Without any row, the default
from settings.UNIONFLOW_PARAMETERS."""

from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from . import memo


def default(key):
    try:
        return Decimal(str(settings.UNIONFLOW_PARAMETERS[key]))
    except KeyError:
        raise KeyError(f"unknown parameter {key!r}: add it to UNIONFLOW_PARAMETERS") from None


def parameter(key, *, organization=None, on=None):
    if organization is None:
        on = on or timezone.localdate()
        return _latest_by_path(key, on).get(None, default(key))
    return parameter_for_each(key, [organization], on=on)[organization.pk]


def parameter_for_each(key, organizations, *, on=None):
    """`parameter(key)` for many organizations in one query: {organization id: value}."""
    on = on or timezone.localdate()
    latest = _latest_by_path(key, on)
    values = {}
    for org in organizations:
        steplen = type(org).steplen
        paths = [org.path[:i] for i in range(len(org.path), 0, -steplen)]
        values[org.pk] = next((latest[p] for p in [*paths, None] if p in latest), default(key))
    return values


def _latest_by_path(key, on):
    """{organization path (None: everywhere): the value of `key` in force on `on`}."""
    return memo.configuration(("parameters", on), lambda: _all_in_force(on)).get(key, {})


def _all_in_force(on):
    """Every parameter in force on `on`, {key: {path: value}}, in one query (the table holds a
    few rows per key: read them all once per operation rather than one key at a time)."""
    from .models import Parameter

    rows = (
        Parameter.objects.filter(effective_from__lte=on)
        .order_by("-effective_from")
        .values_list("key", "organization__path", "value")
    )
    latest = {}
    for key, path, value in rows:
        latest.setdefault(key, {}).setdefault(path, value)
    return latest
