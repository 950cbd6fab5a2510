"""The queue reads viewflow's task status from a copy on our task row (`CaseTask.flow_status`,
served by a partial index). Whatever changes a task's status — a claim, a release, a
decision, a withdrawal, viewflow cancelling a process's tasks as its own base Task — the copy
follows in the same transaction, so the queue offers exactly the tasks that can be claimed."""

from approvals import selectors, services
from approvals.models import CaseTask
from bench.engine import Driver, hardship_case, mediation_case, remittance_case
from tests.helpers import open_task, submit_sample
from workflows.base import flow_for


def _copies_agree():
    """Every task row whose copy differs from viewflow's status: none."""
    return [
        (pk, status, copy)
        for pk, status, copy in CaseTask.objects.values_list("pk", "status", "flow_status")
        if status != copy
    ]


def _queue_ids(user):
    return set(selectors.queue(user).values_list("pk", flat=True))


def test_the_queue_follows_claim_release_and_decision(demo):
    case = submit_sample(demo.worker1)
    task = open_task(case)
    assert CaseTask.objects.get(pk=task.pk).flow_status == "NEW"
    assert _queue_ids(demo.chair1) == {task.pk}

    services.claim(task_id=task.pk, user=demo.chair1)
    assert CaseTask.objects.get(pk=task.pk).flow_status == "ASSIGNED"
    assert _queue_ids(demo.chair1) == set()

    services.release(task_id=task.pk, user=demo.chair1)
    assert CaseTask.objects.get(pk=task.pk).flow_status == "NEW"
    assert _queue_ids(demo.chair1) == {task.pk}

    services.complete(task_id=task.pk, user=demo.chair1, decision="approve")
    assert CaseTask.objects.get(pk=task.pk).flow_status == "DONE"
    assert task.pk not in _queue_ids(demo.chair1)
    assert _copies_agree() == []


def test_a_withdrawal_takes_the_task_out_of_the_queue(demo):
    case = submit_sample(demo.worker1)
    task = open_task(case)
    services.withdraw(case_id=case.pk, user=demo.worker1, reason="Solved.")
    assert CaseTask.objects.get(pk=task.pk).flow_status == "CANCELED"
    assert _queue_ids(demo.chair1) == set()
    assert _copies_agree() == []


def test_viewflow_cancelling_through_its_base_task_updates_the_copy(demo):
    """viewflow's own cancellation reads `process.task_set` (its base Task, not ours) and saves
    those: our row's copy must follow all the same."""
    case = submit_sample(demo.worker1)
    task = open_task(case)
    flow_for(case.process).instance.cancel(case.flow_process)
    row = CaseTask.objects.get(pk=task.pk)
    assert row.status == "CANCELED" and row.flow_status == "CANCELED"
    assert _queue_ids(demo.chair1) == set()


def test_every_process_path_keeps_the_copy(demo):
    driver = Driver()
    for i, drive in enumerate((hardship_case, mediation_case, remittance_case)):
        drive(driver, i)
    assert CaseTask.objects.count() > 20
    assert _copies_agree() == []
