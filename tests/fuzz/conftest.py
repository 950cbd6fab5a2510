"""The data both fuzzers run against: the demo tree, a few cases of each process at different
steps, and what hangs off them."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone


def _ids(queryset, limit=6):
    return list(queryset.order_by("pk").values_list("pk", flat=True)[:limit])


def _known_ids():
    """Real identifiers per path prefix, so examples reach existing objects, not only 404."""
    from approvals.models import CaseTask, Delegation
    from cases.models import Case
    from notifications.models import Notification

    cases = Case.objects.all()
    return {
        "/api/v1/cases/{id}": _ids(cases, 20),
        "/api/v1/mediation-cases/{id}": _ids(cases.filter(process="mediation")),
        "/api/v1/reports/cases/{id}": _ids(cases),
        "/api/v1/tasks/{id}": _ids(CaseTask.objects.filter(flow_task_type="HUMAN"), 30),
        "/api/v1/notifications/{id}": _ids(Notification.objects.all(), 20),
        "/api/v1/delegations/{id}": _ids(Delegation.objects.all()),
    }


@pytest.fixture
def fuzz_data(demo, api):
    """The demo tree, a few cases of each process at different steps, and the objects that hang
    off them (tasks, notifications, a delegation)."""
    call_command("seed_cases")
    now = timezone.now()
    response = api(demo.town_aid1).post(
        "/api/v1/delegations/",
        {
            "delegate": "town_aid2",
            "starts_at": (now - timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=300)).isoformat(),  # in force, within the longest
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return _known_ids()
