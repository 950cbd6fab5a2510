"""A task reads the same through the fast representation as through the declared fields (the
schema): every task of cases driven through all three processes — open, claimed, decided,
skipped, cancelled, by role and by name."""

import json
from decimal import Decimal

import pytest
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from approvals import services
from approvals.api import TaskDetailSerializer, TaskSerializer
from approvals.models import CaseTask
from bench.engine import Driver, hardship_case, mediation_case, remittance_case, submit_mediation

pytestmark = pytest.mark.django_db


def as_json(data):
    return json.loads(JSONRenderer().render(data))


def declared(serializer_class, task):
    """The representation DRF builds from the declared fields."""
    return serializers.Serializer.to_representation(serializer_class(), task)


def test_every_task_reads_the_same_as_its_declared_fields(demo):
    driver = Driver()
    hardship_case(driver, 0)
    mediation_case(driver, 0)
    remittance_case(driver, 0)
    # Open ones: a mediation application waiting for acceptance, claimed, and one unclaimed.
    waiting, _unclaimed = (
        submit_mediation(
            demo.worker1,
            applicant_name="杨工人",
            applicant_id_number="110105199003071239",
            applicant_phone="13800138000",
            claim_amount=Decimal(amount),
            known_days_ago=days,
        )
        for amount, days in (("1200.00", 3), ("900.00", 2))
    )
    acceptance = driver.open_task(waiting, "acceptance")
    services.claim(task_id=acceptance.pk, user=demo.med_head)

    tasks = CaseTask.objects.filter(flow_task_type="HUMAN").select_related(
        "case", "owner", "candidate_organization", "completed_by", "on_behalf_of"
    )
    statuses = set()
    for task in tasks:
        statuses.add(task.status)
        for serializer_class in (TaskSerializer, TaskDetailSerializer):
            assert as_json(serializer_class(task).data) == as_json(
                declared(serializer_class, task)
            ), (task.pk, task.flow_task.name, task.status)
    assert {"NEW", "ASSIGNED", "DONE"} <= statuses
    assert len(tasks) >= 15
    # A page shares each step's texts among its rows: open and closed tasks of one step, and
    # of different kinds, still read as they do alone.
    steps = [(t.flow_task, t.is_open) for t in tasks]
    assert len(set(steps)) < len(steps)
    assert {t.flow_task for t in tasks if t.is_open} & {t.flow_task for t in tasks if not t.is_open}
    assert as_json(TaskSerializer(tasks, many=True).data) == [
        as_json(TaskSerializer(task).data) for task in tasks
    ]
