"""Eligibility: the formula at its boundaries, as properties (hypothesis, against an exact
rational oracle), and the living standard per region and effective date."""

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from cases.hardship.eligibility import Rules, assess, per_capita_income
from core.models import Parameter

from .helpers import apply, ric_number

RULES = Rules(
    living_standard=Decimal("900.00"),
    relative_multiple=Decimal("2"),
    sudden_ratio=Decimal("0.8"),
)


def category(income, expenses="0", size=1, rules=RULES, **kwargs):
    return assess(
        annual_income=Decimal(income),
        rigid_expenses=Decimal(expenses),
        household_size=size,
        rules=rules,
        **kwargs,
    ).category


# --- Boundaries -------------------------------------------------------------------------------


def test_deep_below_the_living_standard_relative_at_it():
    # 900 × 12 × 3 = 32,400 a year for a household of three.
    assert category("32399.99", size=3) == "deep"
    assert category("32400.00", size=3) == "relative"


def test_relative_below_twice_the_standard_ineligible_at_it():
    assert category("64799.99", size=3) == "relative"
    assert category("64800.00", size=3) == "ineligible"


def test_rigid_expenses_come_off_before_dividing():
    # 70,000 − 6,000 = 64,000 < 64,800 → relative; without the expenses → ineligible.
    assert category("70000", "6000", size=3) == "relative"
    assert category("70000", "0", size=3) == "ineligible"
    result = assess(
        annual_income=Decimal("70000"),
        rigid_expenses=Decimal("6000"),
        household_size=3,
        rules=RULES,
    )
    assert result.per_capita_income == Decimal("1777.77")  # 64,000 / 36 = 1777.77…, down


def test_negative_per_capita_income_counts_as_zero():
    result = assess(
        annual_income=Decimal("10000"),
        rigid_expenses=Decimal("50000"),
        household_size=2,
        rules=RULES,
    )
    assert result.per_capita_income == Decimal("0.00")
    assert result.category == "deep"


def test_sudden_hardship_needs_costs_above_the_ratio_and_an_accident():
    income = "100000"  # far above the relative line for one person
    assert category(income, accident_or_illness=True, hardship_costs=Decimal("80000")) == (
        "ineligible"  # exactly 80 % is not above it
    )
    assert (
        category(income, accident_or_illness=True, hardship_costs=Decimal("80000.01")) == "sudden"
    )
    assert (
        category(income, accident_or_illness=False, hardship_costs=Decimal("99000")) == "ineligible"
    )


def test_income_categories_come_before_sudden():
    assert category("10000", accident_or_illness=True, hardship_costs=Decimal("9000")) == "deep"


def test_household_size_is_at_least_one():
    with pytest.raises(ValueError):
        per_capita_income(Decimal("1"), Decimal("0"), 0)


def test_the_rates_come_from_the_rules():
    strict = Rules(Decimal("1000"), Decimal("1.5"), Decimal("0.5"))
    assert category("11999.99", rules=strict) == "deep"
    assert category("17999.99", rules=strict) == "relative"
    assert category("18000", rules=strict) == "ineligible"
    assert (
        category("18000", rules=strict, accident_or_illness=True, hardship_costs=Decimal("9001"))
        == "sudden"
    )


# --- Properties -------------------------------------------------------------------------------

money = st.decimals(
    min_value=Decimal("0"), max_value=Decimal("10000000"), places=2, allow_nan=False
)
sizes = st.integers(min_value=1, max_value=30)
standards = st.decimals(min_value=Decimal("1"), max_value=Decimal("5000"), places=2)


def oracle(income, expenses, size, standard, multiple, ratio, accident, costs):
    """DOMAIN.md A, literally, with exact rational arithmetic."""
    per_capita = max(Fraction(income) - Fraction(expenses), Fraction(0)) / 12 / size
    if per_capita < Fraction(standard):
        return "deep"
    if per_capita < Fraction(multiple) * Fraction(standard):
        return "relative"
    if accident and costs is not None and Fraction(costs) > Fraction(ratio) * Fraction(income):
        return "sudden"
    return "ineligible"


@settings(max_examples=300, deadline=None)
@given(
    income=money,
    expenses=money,
    size=sizes,
    standard=standards,
    multiple=st.decimals(min_value=Decimal("1"), max_value=Decimal("4"), places=2),
    ratio=st.decimals(min_value=Decimal("0.1"), max_value=Decimal("1"), places=2),
    accident=st.booleans(),
    costs=st.none() | money,
)
def test_category_follows_the_formula(
    income, expenses, size, standard, multiple, ratio, accident, costs
):
    rules = Rules(standard, multiple, ratio)
    result = assess(
        annual_income=income,
        rigid_expenses=expenses,
        household_size=size,
        rules=rules,
        accident_or_illness=accident,
        hardship_costs=costs,
    )
    assert result.category == oracle(
        income, expenses, size, standard, multiple, ratio, accident, costs
    )
    exact = max(Fraction(income) - Fraction(expenses), Fraction(0)) / 12 / size
    assert result.per_capita_income >= 0
    # Rounded down to the fen, so what is shown agrees with the category.
    assert 0 <= exact - Fraction(result.per_capita_income) < Fraction(1, 100)
    shown_below = result.per_capita_income < standard
    assert shown_below == (result.category == "deep")


@settings(max_examples=200, deadline=None)
@given(income=money, more=money, expenses=money, size=sizes)
def test_more_income_never_makes_a_household_poorer(income, more, expenses, size):
    rank = {"deep": 0, "relative": 1, "ineligible": 2}
    low = category(income, expenses, size)
    high = category(income + more, expenses, size)
    assert rank[low] <= rank[high]


@settings(max_examples=200, deadline=None)
@given(size=sizes, standard=standards)
def test_boundary_is_exact_at_the_fen(size, standard):
    """Exactly at the line is not below it; one fen less is."""
    rules = Rules(standard, Decimal("2"), Decimal("0.8"))
    line = standard * 12 * size
    assert category(str(line), size=size, rules=rules) == "relative"
    assert category(str(line - Decimal("0.01")), size=size, rules=rules) == "deep"


# --- Through the API: the standard of the union on the submission date ---------------------


def test_the_case_keeps_the_living_standard_of_its_region_and_date(demo, api):
    today = timezone.localdate()
    county = demo.org("示范县总工会")
    xishan = demo.org("西山镇总工会")
    Parameter.objects.create(
        key="hardship.living_standard",
        organization=xishan,
        effective_from=date(2020, 1, 1),
        value=Decimal("1000"),
    )
    # A newer county-wide standard that is not in force yet.
    Parameter.objects.create(
        key="hardship.living_standard",
        organization=county,
        effective_from=today + timedelta(days=30),
        value=Decimal("1200"),
    )
    # 11,400 a year for one person: 950 a month.
    body = {"annual_income": "11400.00", "rigid_expenses": "0", "household_size": 1}
    donghu = apply(api, demo.worker1, **body).json()
    xishan_case = apply(api, demo.worker4, id_number=ric_number(4), **body).json()
    assert (donghu["living_standard"], donghu["proposed_category"]) == ("900.00", "relative")
    assert (xishan_case["living_standard"], xishan_case["proposed_category"]) == (
        "1000.00",
        "deep",
    )
    assert donghu["per_capita_income"] == "950.00"
    # A later change of the standard does not touch submitted cases.
    Parameter.objects.create(
        key="hardship.living_standard",
        organization=county,
        effective_from=today - timedelta(days=1),
        value=Decimal("2000"),
    )
    again = api(demo.worker1).get(f"/api/v1/cases/{donghu['id']}/").json()
    assert (again["living_standard"], again["proposed_category"]) == ("900.00", "relative")


@pytest.mark.parametrize(
    ("income", "expected"),
    [
        ("32399.99", "deep"),
        ("32400.00", "relative"),
        ("64799.99", "relative"),
        ("64800.00", "ineligible"),
    ],
)
def test_boundaries_through_the_api(demo, api, income, expected):
    body = apply(api, demo.worker1, annual_income=income, rigid_expenses="0", household_size=3)
    assert body.status_code == 201
    assert body.json()["proposed_category"] == expected


def test_the_shown_per_capita_income_agrees_with_the_category(demo, api, browser_client):
    """10,799.99 a year for one person is 899.999… a month: below the standard of 900.00, so
    deep hardship — shown as 899.99, not as 900.00 "below" 900.00."""
    created = apply(
        api, demo.worker1, annual_income="10799.99", rigid_expenses="0", household_size=1
    ).json()
    assert (created["proposed_category"], created["living_standard"]) == ("deep", "900.00")
    assert created["per_capita_income"] == "899.99"
    shown = api(demo.chair1).get(f"/api/v1/cases/{created['id']}/").json()
    assert shown["per_capita_income"] == "899.99"
    page = browser_client(demo.worker1).get(f"/cases/{created['id']}/").content.decode()
    # The hardship panel's figure and the case fields (the living standard itself is 900.00).
    assert "<dd>899.99<br>" in page and "<dd>899.99</dd>" in page


def test_sudden_hardship_through_the_api(demo, api):
    body = apply(
        api,
        demo.worker1,
        annual_income="100000.00",
        rigid_expenses="0",
        household_size=1,
        accident_or_illness=True,
        hardship_costs="90000.00",
    ).json()
    assert body["proposed_category"] == "sudden"


def test_stored_figures_of_earlier_cases_are_rounded_down_too(demo, api):
    """The data migration recomputes what earlier cases stored (rounded half up then)."""
    import importlib

    from django.apps import apps

    from cases.hardship.models import HardshipApplication

    migration = importlib.import_module("cases.hardship.migrations.0005_per_capita_rounded_down")
    created = apply(
        api, demo.worker1, annual_income="10799.99", rigid_expenses="0", household_size=1
    ).json()
    HardshipApplication.objects.filter(case_id=created["id"]).update(
        per_capita_income=Decimal("900.00")  # as the half-up rounding stored it
    )
    migration.round_down(apps, None)
    record = HardshipApplication.objects.get(case_id=created["id"])
    assert record.per_capita_income == Decimal("899.99")
