"""Each parameter the code reads has bounds, and the admin holds a value to them: a rate from
0 to 1, a due day from 1 to 31, counts whole — with a message naming the value."""

import re
from decimal import Decimal

import pytest
from django.conf import settings

from core.config import BOUNDS, value_error
from core.models import Parameter


def test_every_parameter_has_bounds_and_its_default_is_within_them():
    keys = {k for k in settings.UNIONFLOW_PARAMETERS if not k.startswith("tests.")}
    assert set(BOUNDS) == keys
    for key in keys:
        default = Decimal(str(settings.UNIONFLOW_PARAMETERS[key]))
        assert value_error(key, default) is None, key


def _add(client, key, value):
    return client.post(
        "/admin/core/parameter/add/",
        {"key": key, "effective_from": "2000-01-01", "value": value, "note": ""},
    )


def _value_errors(response):
    html = response.content.decode()
    return re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', html, re.S)


@pytest.mark.parametrize(
    "key, value",
    [
        ("remittance.upper_share_rate", "1.5"),  # retained share −10.00
        ("remittance.fund_rate", "2"),
        ("remittance.late_fee_daily_rate", "1.01"),
        ("remittance.due_day", "32"),
        ("remittance.due_day", "0"),
        ("remittance.due_day", "15.5"),
        ("remittance.reminder_working_days", "2.5"),
        ("remittance.dues_wage_unit", "0"),  # divides the wage
        ("hardship.sudden_cost_ratio", "1.2"),
        ("hardship.investigation_working_days", "0"),
        ("mediation.statutory_days", "15.5"),
        ("approvals.delegation_max_days", "0"),
    ],
)
def test_the_admin_refuses_a_value_outside_the_keys_bounds(demo, client, key, value):
    client.force_login(demo.admin)
    refused = _add(client, key, value)
    assert refused.status_code == 200
    errors = " ".join(_value_errors(refused))
    assert value in errors and key in errors  # names the value and the key
    assert not Parameter.objects.exists()


@pytest.mark.parametrize(
    "key, value",
    [
        ("remittance.due_day", "31"),  # past a short month's end: its last day
        ("remittance.due_day", "1"),
        ("remittance.upper_share_rate", "1"),
        ("remittance.upper_share_rate", "0"),
        ("remittance.late_fee_daily_rate", "0"),  # disables the late fee
        ("remittance.late_fee_cap_ratio", "0"),  # no cap
        ("remittance.reminder_working_days", "0"),
        ("hardship.county_threshold", "8000.50"),
    ],
)
def test_the_admin_accepts_a_value_within_the_keys_bounds(demo, client, key, value):
    client.force_login(demo.admin)
    added = _add(client, key, value)
    assert added.status_code == 302, _value_errors(added)
    assert Parameter.objects.get().value == Decimal(value)
