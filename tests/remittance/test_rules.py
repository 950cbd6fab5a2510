from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cases.remittance import rules

money = st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2)


@given(payroll=money, upper_rate=st.decimals(min_value=0, max_value=1, places=4))
def test_shares_always_add_up_and_are_never_negative(payroll, upper_rate):
    s = rules.shares(payroll, fund_rate=Decimal("0.02"), upper_share_rate=upper_rate)
    assert s.upper_share + s.retained_share == s.fund_due
    assert min(s.fund_due, s.upper_share, s.retained_share) >= 0
    for value in (s.fund_due, s.upper_share, s.retained_share):
        assert value == value.quantize(Decimal("0.01"))


@pytest.mark.parametrize(
    "payroll, fund, upper, retained",
    [
        ("100000.00", "2000.00", "800.00", "1200.00"),
        ("0.25", "0.01", "0.00", "0.01"),  # 0.005 → 0.01 (half up); 0.004 → 0.00
        ("0.74", "0.01", "0.00", "0.01"),  # 0.0148 → 0.01
        ("0.75", "0.02", "0.01", "0.01"),  # 0.015 → 0.02; 0.008 → 0.01
        ("1234567.89", "24691.36", "9876.54", "14814.82"),  # 24691.3578; 9876.544
        ("31.25", "0.63", "0.25", "0.38"),  # 0.625 → 0.63; 0.252 → 0.25
    ],
)
def test_shares_at_rounding_boundaries(payroll, fund, upper, retained):
    s = rules.shares(Decimal(payroll), fund_rate=Decimal("0.02"), upper_share_rate=Decimal("0.40"))
    assert (s.fund_due, s.upper_share, s.retained_share) == (
        Decimal(fund),
        Decimal(upper),
        Decimal(retained),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "period, due",
    [
        (date(2026, 1, 1), date(2026, 2, 24)),  # 15 Feb 2026 is in the Spring Festival holiday
        (date(2026, 4, 1), date(2026, 5, 15)),  # a Friday
        (date(2026, 7, 1), date(2026, 8, 17)),  # 15 Aug 2026 is a Saturday
        (date(2026, 12, 1), date(2027, 1, 15)),  # 2027: no calendar data, Mon–Fri fallback (Fri)
        (date(2027, 4, 1), date(2027, 5, 17)),  # 15 May 2027 is a Saturday (fallback)
    ],
)
def test_due_date_moves_to_the_next_working_day(period, due):
    assert rules.due_date(period, due_day=15) == due


@pytest.mark.django_db
@pytest.mark.parametrize(
    "period, due_day, due",
    [
        # A due day past the month's end is its last day (it raised ValueError and stopped
        # declarations, the overview and every union's reminders).
        (date(2026, 1, 1), 31, date(2026, 2, 28)),  # a Saturday, but a make-up working day
        (date(2026, 1, 1), 29, date(2026, 2, 28)),
        (date(2026, 3, 1), 31, date(2026, 4, 30)),
        (date(2026, 10, 1), 31, date(2026, 11, 30)),
        (date(2026, 11, 1), 31, date(2026, 12, 31)),  # December has 31 days
        (date(2027, 1, 1), 29, date(2027, 3, 1)),  # 28 Feb 2027 is a Sunday (fallback)
        (date(2028, 1, 1), 30, date(2028, 2, 29)),  # a leap year
    ],
)
def test_a_due_day_past_the_months_end_is_its_last_day(period, due_day, due):
    assert rules.due_date(period, due_day=due_day) == due


@pytest.mark.parametrize(
    "days, fee",
    [
        (0, "0.00"),
        (1, "4.00"),  # 800 × 0.5 % × 1
        (3, "12.00"),
        (199, "796.00"),
        (200, "800.00"),  # reaches the cap (the principal)
        (365, "800.00"),  # capped
    ],
)
def test_late_fee_until_the_cap(days, fee):
    assert rules.late_fee(
        Decimal("800.00"), days, daily_rate=Decimal("0.005"), cap_ratio=1
    ) == Decimal(fee)


def test_late_fee_disabled_and_uncapped():
    assert rules.late_fee(Decimal("800"), 30, daily_rate=0, cap_ratio=1) == Decimal("0.00")
    assert rules.late_fee(Decimal("800"), 365, daily_rate=Decimal("0.005"), cap_ratio=0) == Decimal(
        "1460.00"
    )


@given(
    unpaid=money,
    days=st.integers(min_value=0, max_value=3650),
    rate=st.decimals(min_value=0, max_value=Decimal("0.01"), places=4),
)
def test_late_fee_never_exceeds_the_principal(unpaid, days, rate):
    fee = rules.late_fee(unpaid, days, daily_rate=rate, cap_ratio=1)
    assert Decimal("0") <= fee <= rules.to_fen(unpaid)


def test_days_late():
    assert rules.days_late(date(2026, 2, 24), date(2026, 2, 24)) == 0
    assert rules.days_late(date(2026, 2, 24), date(2026, 2, 20)) == 0
    assert rules.days_late(date(2026, 2, 24), date(2026, 3, 3)) == 7


@pytest.mark.parametrize(
    "wage, dues",
    [("4567", "22.80"), ("9.99", "0.00"), ("10", "0.05"), ("12345.67", "61.70"), ("0", "0.00")],
)
def test_member_dues(wage, dues):
    assert rules.member_dues(Decimal(wage), rate=Decimal("0.005"), wage_unit=10) == Decimal(dues)
