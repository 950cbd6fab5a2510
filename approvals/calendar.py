"""Working days by the official Chinese calendar, and deadlines as absolute times.

Sources in order: the admin's overrides (WorkingDayOverride), then the chinese-calendar
package (holidays and make-up working days, 调休), and for a year it does not know yet,
Monday to Friday with a warning in the log — a deadline is never refused for lack of data."""

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
from django.conf import settings

from core import memo

logger = logging.getLogger(__name__)
_warned_years = set()


def local_zone():
    return ZoneInfo(settings.TIME_ZONE)


def _overrides(start, end):
    """{date: is working day} of the admin's overrides between `start` and `end`. Within an
    operation one read covers a margin around the first range asked for, so the deadline and
    reminder of each task opened reuse it."""
    lo, hi, days = memo.configuration("working_day_overrides", lambda: (None, None, {}))
    if lo is None or start < lo or end > hi:
        lo = min(start, lo or start) - OVERRIDES_MARGIN
        hi = max(end, hi or end) + OVERRIDES_MARGIN
        days = _read_overrides(lo, hi)
        memo.reconfigure("working_day_overrides", (lo, hi, days))
    return {day: working for day, working in days.items() if start <= day <= end}


OVERRIDES_MARGIN = timedelta(days=90)


def _read_overrides(start, end):
    from .models import WorkingDayOverride

    return dict(
        WorkingDayOverride.objects.filter(date__range=(start, end)).values_list(
            "date", "is_working_day"
        )
    )


def _package_says(day):
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            logger.warning(
                "No official calendar for %s yet: counting Monday to Friday as working days. "
                "Add the announced holidays as working-day overrides in the admin.",
                day.year,
            )
        return day.weekday() < 5


def is_working_day(day, overrides=None):
    overrides = _overrides(day, day) if overrides is None else overrides
    if day in overrides:
        return overrides[day]
    return _package_says(day)


def add_working_days(start_day, count):
    """The `count`-th working day after `start_day` (not counting `start_day` itself)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    # Long holidays are at most ~10 days; a window of 3× the count plus a month is plenty.
    window_end = start_day + timedelta(days=count * 3 + 31)
    overrides = _overrides(start_day, window_end)
    day, found = start_day, 0
    while found < count:
        day += timedelta(days=1)
        if is_working_day(day, overrides):
            found += 1
    return day


def previous_working_day(day):
    overrides = _overrides(day - timedelta(days=40), day)
    day -= timedelta(days=1)
    while not is_working_day(day, overrides):
        day -= timedelta(days=1)
    return day


def end_of_day(day):
    """The last moment of a local calendar day, as an aware time."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=local_zone())


def local_date(moment):
    return moment.astimezone(local_zone()).date()


# A due period is any object with `due(opened_at, *, organization)` → an aware time, and
# `describe()`. The organization is the case's, for periods that are configured per subtree.


@dataclass(frozen=True)
class WorkingDays:
    """Due at the end of the n-th working day after the day the task opens."""

    count: int

    def due(self, opened_at, *, organization=None):
        return end_of_day(add_working_days(local_date(opened_at), self.count))

    def describe(self):
        return f"{self.count} working days"


@dataclass(frozen=True)
class CalendarDays:
    """Due at the end of the n-th calendar day after the day the task opens (the 15 days of
    the mediation law count plain days)."""

    count: int

    def due(self, opened_at, *, organization=None):
        return end_of_day(local_date(opened_at) + timedelta(days=self.count))

    def describe(self):
        return f"{self.count} calendar days"


@dataclass(frozen=True)
class ParameterWorkingDays:
    """Working days read from a parameter, for the case's organization, when the task opens."""

    key: str

    def due(self, opened_at, *, organization=None):
        from core.config import parameter

        days = int(parameter(self.key, organization=organization, on=local_date(opened_at)))
        return WorkingDays(max(days, 1)).due(opened_at)

    def describe(self):
        return f"{self.key} working days"


def reminder_time(due_at, working_days_before):
    """`working_days_before` working days before `due_at`: the end of that earlier working day."""
    day = local_date(due_at)
    for _ in range(working_days_before):
        day = previous_working_day(day)
    return end_of_day(day)


def is_known_year(year):
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True
