"""The money rules of fee remittance (工会法 Art. 43–45; 北京/重庆 local regulations), as pure
functions on Decimal. Rates come from parameters; rounding is half-up to the fen."""

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from approvals.calendar import is_working_day

FEN = Decimal("0.01")


def to_fen(amount):
    return Decimal(amount).quantize(FEN, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Shares:
    fund_due: Decimal  # 应拨缴经费: payroll × rate
    upper_share: Decimal  # 上解: what goes up
    retained_share: Decimal  # 留成: what the union keeps


def shares(payroll_total, *, fund_rate, upper_share_rate):
    """Fund due and its split. The retained share is the remainder, so the two always add up
    to the fund exactly."""
    fund = to_fen(Decimal(payroll_total) * Decimal(fund_rate))
    upper = to_fen(fund * Decimal(upper_share_rate))
    return Shares(fund_due=fund, upper_share=upper, retained_share=fund - upper)


def due_date(period, *, due_day):
    """The `due_day` of the month after `period` (a first-of-month date), moved to the next
    working day when it is not one. A day beyond that month's end (a due day of 31 before a
    30-day month, 29–31 before February) means its last day: one configured day serves every
    month, and a reminder job or a declaration never fails on a short month."""
    year, month = (period.year + 1, 1) if period.month == 12 else (period.year, period.month + 1)
    last = calendar.monthrange(year, month)[1]
    day = date(year, month, min(max(int(due_day), 1), last))
    while not is_working_day(day):
        day = date.fromordinal(day.toordinal() + 1)
    return day


def days_late(due, paid_on):
    """Calendar days after the due date until the day paid."""
    return max(0, (paid_on - due).days)


def late_fee(unpaid, days, *, daily_rate, cap_ratio):
    """滞纳金: unpaid × daily rate × days, capped at `cap_ratio` × unpaid (0: no cap). A rate of
    0 disables the fee."""
    unpaid, daily_rate, cap_ratio = Decimal(unpaid), Decimal(daily_rate), Decimal(cap_ratio)
    if days <= 0 or daily_rate <= 0 or unpaid <= 0:
        return Decimal("0.00")
    fee = to_fen(unpaid * daily_rate * days)
    if cap_ratio > 0:
        fee = min(fee, to_fen(unpaid * cap_ratio))
    return fee


def member_dues(wage, *, rate, wage_unit):
    """会费: rate × the wage rounded down to the unit (the part under 10 CNY is ignored),
    e.g. 4,567 → 4,560 × 0.5 % = 22.80."""
    wage, wage_unit = Decimal(wage), Decimal(wage_unit)
    counted = (wage / wage_unit).to_integral_value(rounding=ROUND_FLOOR) * wage_unit
    return to_fen(counted * Decimal(rate))
