"""What every report is asked for: who asks (officers and auditors only), for which part of the
tree (one organization and its subtree, within the caller's reach) and for which period
(local calendar dates, both inclusive). Bad input is a 400 naming the field."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.calendar import local_zone
from core.errors import Forbidden, Invalid, NotFound
from organizations.models import OFFICER_ROLES, Organization
from organizations.selectors import memberships_of, officer_paths, organization_in_reach

# A longer span makes no report anyone reads, and bounds the month-by-month series.
MAX_SPAN_DAYS = 366 * 10
# Years a report may cover: no case predates the system, and far-off dates break date
# arithmetic (year 9999 + 1 day) and time zones (Shanghai's 1900 offset is +08:05:43).
FIRST_YEAR, LAST_YEAR = 2000, 2100


@dataclass(frozen=True)
class Period:
    """Local calendar dates `start`–`end`, both inclusive."""

    start: date
    end: date

    @property
    def start_at(self):
        """The first moment of the period (local midnight), aware."""
        return datetime.combine(self.start, time.min, tzinfo=local_zone())

    @property
    def end_at(self):
        """The first moment after the period (local midnight after `end`), aware."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=local_zone())

    def as_of(self, now=None):
        """The moment "in progress" and "overdue" are counted at: the last moment of the
        period, or now when the period has not ended yet."""
        now = now or timezone.now()
        return min(self.end_at - timedelta(microseconds=1), now)

    def months(self):
        """First days of the months the period touches, in order."""
        month = self.start.replace(day=1)
        out = []
        while month <= self.end:
            out.append(month)
            month = (month + timedelta(days=32)).replace(day=1)
        return out

    def as_params(self):
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def this_year():
    today = timezone.localdate()
    return Period(date(today.year, 1, 1), date(today.year, 12, 31))


def _date(value, field):
    try:
        day = date.fromisoformat(str(value).strip())
    except ValueError:
        raise Invalid(
            _("Invalid period."), fields={field: [_("Enter a date as YYYY-MM-DD.")]}
        ) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise Invalid(
            _("Invalid period."),
            fields={
                field: [
                    _("Enter a date between %(first)s and %(last)s.")
                    % {"first": FIRST_YEAR, "last": LAST_YEAR}
                ]
            },
        )
    return day


def parse_period(params):
    """`from` / `to` (YYYY-MM-DD, inclusive); either may be left out (default: this calendar
    year's first / last day)."""
    default = this_year()
    raw_from, raw_to = params.get("from") or "", params.get("to") or ""
    start = _date(raw_from, "from") if raw_from else None
    end = _date(raw_to, "to") if raw_to else None
    if start is None and end is None:
        return default
    if start is None:
        start = date(end.year, 1, 1)
    if end is None:
        end = date(start.year, 12, 31)
    if end < start:
        raise Invalid(_("Invalid period."), fields={"to": [_("Must not be before the start.")]})
    if (end - start).days > MAX_SPAN_DAYS:
        raise Invalid(
            _("Invalid period."), fields={"to": [_("A period may span at most ten years.")]}
        )
    return Period(start, end)


def parse_year(params):
    raw = str(params.get("year") or "").strip()
    if not raw:
        return timezone.localdate().year
    if not raw.isdigit() or not FIRST_YEAR <= int(raw) <= LAST_YEAR:
        raise Invalid(_("Invalid year."), fields={"year": [_("Enter a year, e.g. 2026.")]})
    return int(raw)


def may_report(user):
    """Officers of any kind and auditors read reports; members (applicants) do not."""
    if not user.is_authenticated:
        return False
    return user.is_superuser or any(m.role in OFFICER_ROLES for m in memberships_of(user))


def require_reporter(user):
    if not may_report(user):
        raise Forbidden(_("Reports are for officers and auditors."))


def default_organization(user):
    """The top of the caller's reach (the first, when they act in separate subtrees)."""
    paths = officer_paths(user)
    if paths:
        return Organization.objects.get(path=paths[0])
    return Organization.get_root_nodes().first() if user.is_superuser else None


def parse_organization(user, params, field="organization"):
    """The organization whose subtree the report covers: the given one (404 when it does not
    exist or lies outside the caller's reach), else the top of the caller's reach."""
    raw = str(params.get(field) or "").strip()
    if not raw:
        org = default_organization(user)
        if org is None:
            raise NotFound(_("No organization in your reach."))
        return org
    if not raw.isdigit():
        raise Invalid(_("Invalid organization."), fields={field: [_("Give an organization id.")]})
    org = Organization.objects.filter(pk=int(raw)).first()
    if org is None or not organization_in_reach(user, org):
        raise NotFound(_("No such organization in your reach."))
    return org


def parse(user, params):
    """(organization, period) for a caller allowed to read reports."""
    require_reporter(user)
    period = parse_period(params)
    return parse_organization(user, params), period
