"""Configured numbers: `parameter("approvals.urge_interval_hours", organization=org, on=date)`.

Lookup order: the organization's own row, then its ancestors' (nearest first), then a row for
everywhere; within each, the latest version effective on `on`. Without any row, the default
from settings.UNIONFLOW_PARAMETERS."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

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


# --- what each parameter may be ------------------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    """The values a parameter may take: from `low` to `high` (None: no upper bound), both
    inclusive, and a whole number when it counts something (days, months, people). A value
    outside them would be read as it is: an upper share rate of 1.5 leaves a negative retained
    share, a due day of 40 names no day."""

    low: Decimal
    high: Decimal | None = None
    whole: bool = False


def _bounds(low, high=None, *, whole=False):
    return Bounds(Decimal(str(low)), None if high is None else Decimal(str(high)), whole)


RATE = _bounds(0, 1)  # a share of something: 0 % to 100 %
MONEY = _bounds(0)
WORKING_DAYS = _bounds(1, 365, whole=True)  # a step's time to act
LEAD_DAYS = _bounds(0, 365, whole=True)  # how early to remind (0: on the day)

# Every key in settings.UNIONFLOW_PARAMETERS (tests/core checks that none is missing), declared
# once: what the admin calls it (its list, filter and form) and the values it may take.
PARAMETERS = {
    "approvals.urge_interval_hours": (
        gettext_lazy("Approvals: hours before a task may be urged again"),
        _bounds(0, 8760),
    ),
    "approvals.reminder_working_days": (
        gettext_lazy("Approvals: reminder before a task is due (working days)"),
        LEAD_DAYS,
    ),
    "approvals.delegation_max_days": (
        gettext_lazy("Approvals: longest delegation (days)"),
        _bounds(1, 3660, whole=True),
    ),
    "hardship.living_standard": (
        gettext_lazy("Hardship aid: minimum living standard (CNY per person per month)"),
        _bounds("0.01"),
    ),
    "hardship.relative_hardship_multiple": (
        gettext_lazy(
            "Hardship aid: relative hardship below this multiple of the minimum living standard"
        ),
        _bounds(1, 100),
    ),
    "hardship.sudden_cost_ratio": (
        gettext_lazy("Hardship aid: sudden hardship when costs exceed this share of income"),
        RATE,
    ),
    "hardship.county_threshold": (
        gettext_lazy("Hardship aid: county approval above this amount (CNY)"),
        MONEY,
    ),
    "hardship.investigation_working_days": (
        gettext_lazy("Hardship aid: time for the investigation (working days)"),
        WORKING_DAYS,
    ),
    "hardship.notice_working_days": (
        gettext_lazy("Hardship aid: public notice (working days)"),
        WORKING_DAYS,
    ),
    "hardship.review_working_days": (
        gettext_lazy("Hardship aid: time for each review (working days)"),
        WORKING_DAYS,
    ),
    "hardship.disbursement_working_days": (
        gettext_lazy("Hardship aid: time for the disbursement (working days)"),
        WORKING_DAYS,
    ),
    "hardship.register_review_months": (
        gettext_lazy("Hardship aid: review of a register entry (months)"),
        _bounds(1, 120, whole=True),
    ),
    "hardship.register_review_months_sudden": (
        gettext_lazy("Hardship aid: review of a register entry for sudden hardship (months)"),
        _bounds(1, 120, whole=True),
    ),
    "hardship.exit_notice_working_days": (
        gettext_lazy("Hardship aid: exit notice (working days)"),
        WORKING_DAYS,
    ),
    "hardship.attachment_max_mb": (
        gettext_lazy("Hardship aid: largest attachment (MB)"),
        _bounds(1, 100, whole=True),
    ),
    "mediation.acceptance_working_days": (
        gettext_lazy("Mediation: time to accept an application (working days)"),
        WORKING_DAYS,
    ),
    "mediation.statutory_days": (
        gettext_lazy("Mediation: statutory term (days)"),
        _bounds(1, 365, whole=True),
    ),
    "mediation.limitation_months": (
        gettext_lazy("Mediation: limitation period (months)"),
        _bounds(1, 1200, whole=True),
    ),
    "mediation.arbitral_review_days": (
        gettext_lazy("Mediation: time to apply for arbitral review (days)"),
        _bounds(1, 365, whole=True),
    ),
    "mediation.collective_min_workers": (
        gettext_lazy("Mediation: fewest workers of a collective dispute"),
        _bounds(2, 100000, whole=True),
    ),
    "mediation.deadline_reminder_days": (
        gettext_lazy("Mediation: reminder before the statutory deadline (days)"),
        LEAD_DAYS,
    ),
    "remittance.fund_rate": (
        gettext_lazy("Fee remittance: union fund rate (share of the payroll)"),
        RATE,
    ),
    "remittance.upper_share_rate": (
        gettext_lazy("Fee remittance: share remitted upward"),
        RATE,
    ),
    "remittance.due_day": (
        gettext_lazy("Fee remittance: due day of the following month"),
        _bounds(1, 31, whole=True),  # past a month's end: its last day
    ),
    "remittance.late_fee_daily_rate": (
        gettext_lazy("Fee remittance: late fee per day (share of the unpaid amount)"),
        RATE,
    ),
    "remittance.late_fee_cap_ratio": (
        gettext_lazy("Fee remittance: late fee cap (multiple of the unpaid amount)"),
        _bounds(0, 100),  # a multiple of the principal; 0: no cap
    ),
    "remittance.reminder_working_days": (
        gettext_lazy("Fee remittance: reminder before the due day (working days)"),
        LEAD_DAYS,
    ),
    "remittance.dues_rate": (
        gettext_lazy("Fee remittance: member dues rate (share of the wage)"),
        RATE,
    ),
    "remittance.dues_wage_unit": (
        gettext_lazy("Fee remittance: wage unit of the member dues (CNY)"),
        _bounds("0.01", 10000),  # divides the wage
    ),
}
LABELS = {key: label for key, (label, bounds) in PARAMETERS.items()}
BOUNDS = {key: bounds for key, (label, bounds) in PARAMETERS.items()}


def parameter_label(key):
    """What the admin calls parameter `key` (the key itself when none is declared)."""
    return LABELS.get(key, key)


def value_error(key, value):
    """Why `value` cannot be the value of parameter `key` (a message naming the value), or
    None when it can. A key without bounds has none beyond not being negative."""
    bounds = BOUNDS.get(key, MONEY)
    value = Decimal(value)
    if bounds.whole and value != value.to_integral_value():
        return _("%(value)s is not allowed: %(key)s is a whole number.") % {
            "value": _plain(value),
            "key": key,
        }
    if value < bounds.low or (bounds.high is not None and value > bounds.high):
        if bounds.high is None:
            return _("%(value)s is not allowed: %(key)s is %(low)s or more.") % {
                "value": _plain(value),
                "key": key,
                "low": _plain(bounds.low),
            }
        return _("%(value)s is not allowed: %(key)s is from %(low)s to %(high)s.") % {
            "value": _plain(value),
            "key": key,
            "low": _plain(bounds.low),
            "high": _plain(bounds.high),
        }
    return None


def _plain(number):
    """1.500000 → 1.5, 31.000000 → 31 (as the administrator typed it, not the column's scale)."""
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
