"""A limitation period configured in days, before it became months, is carried over by
migration core 0006."""

import importlib
from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps

from core.models import Parameter

pytestmark = pytest.mark.django_db

migration = importlib.import_module("core.migrations.0006_limitation_in_months")


def test_days_become_whole_months():
    Parameter.objects.create(
        key="mediation.limitation_days", effective_from=date(2026, 1, 1), value=730
    )
    migration.to_months(apps, None)
    row = Parameter.objects.get()
    assert (row.key, row.value) == ("mediation.limitation_months", Decimal(24))
    assert "730 days" in row.note

    migration.to_days(apps, None)  # and back, when the migration is reversed
    row.refresh_from_db()
    assert (row.key, row.value) == ("mediation.limitation_days", Decimal(730))
