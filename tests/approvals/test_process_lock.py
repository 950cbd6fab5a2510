"""The statement that finds what an operation acts on also takes the process lock: another
connection cannot lock the process until the operation's transaction ends, and what names
nothing (another process's case, a task that is not a person's step) is not found."""

import threading

import pytest
from django.db import connection, transaction
from django.db.utils import OperationalError

from approvals import services
from approvals.models import CaseTask
from approvals.services.tasks import _locked_task
from cases.models import Case
from core import plans
from core.errors import NotFound
from tests.helpers import open_task, submit_sample
from workflows.base import flow_for

from ..mediation.helpers import filed

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def lockable_elsewhere(process_id):
    """Whether another connection can lock the process row right now (without waiting)."""
    answer = {}

    def probe():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM viewflow_process WHERE id = %s FOR UPDATE NOWAIT", [process_id]
                )
            answer["free"] = True
        except OperationalError:
            answer["free"] = False
        finally:
            connection.close()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(30)
    return answer["free"]


def test_a_task_operation_holds_the_process_lock_until_its_transaction_ends(demo):
    task = open_task(submit_sample(demo.worker1))
    assert lockable_elsewhere(task.process_id)
    with _locked_task(task.pk, demo.chair1) as locked:
        assert locked.pk == task.pk
        assert not lockable_elsewhere(task.process_id)
    assert lockable_elsewhere(task.process_id)


def test_a_task_that_is_not_a_persons_step_is_not_found(demo):
    case = submit_sample(demo.worker1)
    start = CaseTask.objects.get(process_id=case.flow_process_id, flow_task_type="START")
    with pytest.raises(NotFound):
        services.claim(task_id=start.pk, user=demo.chair1)
    assert lockable_elsewhere(case.flow_process_id)  # the refusal left nothing locked


def test_a_mediation_operation_locks_its_case_process_and_only_a_mediation_case(demo, api):
    case = filed(api, demo.worker1, demo)
    mediation = flow_for("mediation")
    with transaction.atomic():
        assert mediation.lock_case(case.pk) == case.flow_process_id
        assert not lockable_elsewhere(case.flow_process_id)
        if plans.enabled():  # and the transaction reuses plans, as a task operation does
            with connection.cursor() as cursor:
                cursor.execute("SHOW plan_cache_mode")
                assert cursor.fetchone()[0] == "auto"
    assert lockable_elsewhere(case.flow_process_id)

    other = submit_sample(demo.worker1)
    with transaction.atomic():
        assert mediation.lock_case(other.pk) is None  # a case of another process
        assert mediation.lock_case(Case.objects.order_by("-pk")[0].pk + 1) is None
        assert flow_for("sample").lock_case(other.pk) == other.flow_process_id
    assert lockable_elsewhere(other.flow_process_id)
