"""Idempotent requests' first results are kept for IDEMPOTENCY_RETENTION_HOURS, then purged
(daily by beat): within it a repeat still gets the first result; after it the table no longer
holds the key (every decision taken on a page leaves one)."""

from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from core.models import IdempotencyRecord
from core.tasks import purge_idempotency_records

pytestmark = pytest.mark.django_db


def _sample(api, user, key):
    return api(user).post(
        "/api/v1/sample-cases/",
        {"title": "Roof", "amount": "300.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_a_key_answers_repeats_for_a_week_then_is_forgotten(demo, api):
    first = _sample(api, demo.worker1, "k-1")
    assert first.status_code == 201
    with time_machine.travel(timezone.now() + timedelta(hours=167), tick=False):
        assert purge_idempotency_records() == 0
        again = _sample(api, demo.worker1, "k-1")
        assert again.status_code == 201 and again.json() == first.json()
    with time_machine.travel(timezone.now() + timedelta(hours=169), tick=False):
        assert purge_idempotency_records() == 1
    assert not IdempotencyRecord.objects.exists()


@override_settings(IDEMPOTENCY_RETENTION_HOURS=1)
def test_the_retention_is_configuration_and_purges_in_batches(demo, api, monkeypatch):
    from core import services

    monkeypatch.setattr(services, "PURGE_BATCH_SIZE", 2)
    for i in range(5):
        _sample(api, demo.worker1, f"old-{i}")
    with time_machine.travel(timezone.now() + timedelta(minutes=90), tick=False):
        _sample(api, demo.worker1, "recent")
        assert purge_idempotency_records() == 5
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]
