"""The data both fuzzers run against: the demo tree, a few cases of each process at different
steps, and what hangs off them."""

import pytest
from django.core.management import call_command


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
    response = api(demo.town_aid1).post(
        "/api/v1/delegations/",
        {
            "delegate": "town_aid2",
            "starts_at": "2026-01-01T00:00:00Z",
            "ends_at": "2036-01-01T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return _known_ids()
