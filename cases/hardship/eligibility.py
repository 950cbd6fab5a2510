"""Eligibility (DOMAIN.md A): monthly per-capita income and the proposed hardship category.

    per-capita = (annual household income − rigid expenses) ÷ 12 ÷ household size  (≥ 0)
    deep       per-capita < living standard (低保标准)
    relative   per-capita < multiple × living standard
    sudden     accident or critical illness, and the year's hardship costs > ratio × income
    otherwise  not eligible

The categories are tested in that order. The comparisons multiply instead of divide
(net income < line × 12 × household size), so they are exact in Decimal; only the per-capita
figure shown to people is rounded — down, to the fen. Rounding down keeps what people read in
line with the category: the living standard is itself in fen, so the shown figure is below
the standard exactly when the exact one is (half up would show 10,799.99 ÷ 12 = 899.999… as
900.00 against a standard of 900.00 for a deep-hardship case)."""

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from core.config import parameter

from .models import Category

FEN = Decimal("0.01")
MONTHS = 12


@dataclass(frozen=True)
class Rules:
    living_standard: Decimal
    relative_multiple: Decimal
    sudden_ratio: Decimal

    @classmethod
    def for_organization(cls, organization, on):
        """The configured rules for a union on a date (the living standard is per region and
        versioned by effective date)."""

        def get(key):
            return parameter(key, organization=organization, on=on)

        return cls(
            living_standard=get("hardship.living_standard").quantize(FEN, ROUND_HALF_UP),
            relative_multiple=get("hardship.relative_hardship_multiple"),
            sudden_ratio=get("hardship.sudden_cost_ratio"),
        )


@dataclass(frozen=True)
class Assessment:
    per_capita_income: Decimal  # monthly, rounded down to the fen
    category: str
    living_standard: Decimal


def net_income(annual_income, rigid_expenses):
    """Annual income left after rigid expenses; a negative figure counts as 0."""
    return max(Decimal(annual_income) - Decimal(rigid_expenses), Decimal(0))


def per_capita_income(annual_income, rigid_expenses, household_size):
    """Monthly per-capita income as shown: rounded down to the fen (see the module's doc)."""
    if household_size < 1:
        raise ValueError("household size is at least 1")
    net = net_income(annual_income, rigid_expenses)
    return (net / (MONTHS * household_size)).quantize(FEN, ROUND_DOWN)


def assess(
    *,
    annual_income,
    rigid_expenses,
    household_size,
    rules,
    accident_or_illness=False,
    hardship_costs=None,
):
    if household_size < 1:
        raise ValueError("household size is at least 1")
    annual_income = Decimal(annual_income)
    net = net_income(annual_income, rigid_expenses)
    months = MONTHS * household_size
    if net < rules.living_standard * months:
        category = Category.DEEP
    elif net < rules.relative_multiple * rules.living_standard * months:
        category = Category.RELATIVE
    elif (
        accident_or_illness
        and hardship_costs is not None
        and Decimal(hardship_costs) > rules.sudden_ratio * annual_income
    ):
        category = Category.SUDDEN
    else:
        category = Category.INELIGIBLE
    return Assessment(
        per_capita_income=per_capita_income(annual_income, rigid_expenses, household_size),
        category=category.value,
        living_standard=rules.living_standard,
    )
