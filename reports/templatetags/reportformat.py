from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def percent(rate):
    """0.6667 → "66.67 %"; None → "—"."""
    if rate is None or rate == "":
        return "—"
    return f"{(Decimal(rate) * 100).quantize(Decimal('0.01'))} %"
