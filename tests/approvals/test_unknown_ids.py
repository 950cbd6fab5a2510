"""An id that names no task (or no mediation case) is not found, whatever it looks like: the
services answer 404, never a 500, and change nothing."""

import pytest

from approvals import services
from approvals.models import CaseTask
from cases.mediation import services as mediation
from core.errors import NotFound


@pytest.mark.parametrize("task_id", ["abc", "", None, "1.5", 1.0, True, -1, 10**12, 10**20])
def test_a_task_id_that_names_no_task_is_not_found(demo, task_id):
    before = CaseTask.objects.count()
    with pytest.raises(NotFound):
        services.claim(task_id=task_id, user=demo.chair1)
    with pytest.raises(NotFound):
        services.complete(task_id=task_id, user=demo.chair1, decision="approve")
    assert CaseTask.objects.count() == before


@pytest.mark.parametrize("case_id", ["abc", None, 1.0, -1, 10**12, 10**20])
def test_a_case_id_that_names_no_mediation_case_is_not_found(demo, case_id):
    with pytest.raises(NotFound):
        mediation.record_signature(case_id=case_id, user=demo.mediator1, party="worker")
