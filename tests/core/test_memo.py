"""One operation reads configuration once; the next operation sees a change at once.

A decision opens tasks, computes their deadlines and reminders from parameters and the
official calendar, and notifies people through webhook endpoints. Those rows are read once per
operation (core.memo); on PostgreSQL, an operation on a task reuses what an earlier one read
as long as the configuration's generation (core.generation) has not changed."""

import threading
from datetime import date, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals import calendar, selectors, services
from approvals.models import CaseTask, WorkingDayOverride
from bench.engine import Driver, ric_number, submit_festival_aid
from core import memo
from core.config import parameter
from core.models import Parameter
from notifications.models import Delivery, Notification, WebhookEndpoint
from organizations.models import User

pytestmark = pytest.mark.django_db


def _tables_read(ctx, table):
    return sum(
        1
        for q in ctx.captured_queries
        if q["sql"].startswith("SELECT") and f'"{table}"' in q["sql"]
    )


def test_outside_an_operation_every_call_reads(demo):
    with CaptureQueriesContext(connection) as ctx:
        parameter("approvals.reminder_working_days", organization=demo.org("东湖镇总工会"))
        parameter("approvals.reminder_working_days", organization=demo.org("东湖镇总工会"))
    assert _tables_read(ctx, "core_parameter") == 2


def test_within_an_operation_parameters_and_calendar_are_read_once(demo):
    town = demo.org("东湖镇总工会")
    with memo.operation(), CaptureQueriesContext(connection) as ctx:
        for key in ("approvals.reminder_working_days", "approvals.urge_interval_hours"):
            parameter(key, organization=town)
            parameter(key, organization=town, on=date.today())
        calendar.add_working_days(date(2026, 3, 2), 5)
        calendar.previous_working_day(date(2026, 3, 9))
        calendar.add_working_days(date(2026, 3, 3), 10)
    assert _tables_read(ctx, "core_parameter") == 1
    assert _tables_read(ctx, "approvals_workingdayoverride") == 1


def test_a_changed_parameter_applies_to_the_next_operation(demo):
    town = demo.org("东湖镇总工会")
    key = "approvals.reminder_working_days"
    with memo.operation():
        before = parameter(key, organization=town)
    Parameter.objects.create(
        key=key, organization=town, effective_from=date(2000, 1, 1), value=before + 3
    )
    with memo.operation():
        assert parameter(key, organization=town) == before + 3


def test_calendar_overrides_within_an_operation_still_answer_each_range(demo):
    # A make-up working day (调休) on a Sunday and an extra holiday on a Monday.
    WorkingDayOverride.objects.create(date=date(2026, 3, 8), is_working_day=True)
    WorkingDayOverride.objects.create(date=date(2026, 3, 9), is_working_day=False)
    with memo.operation():
        # Friday 6 March: next working days Sunday 8 (override), then Tuesday 10.
        assert calendar.add_working_days(date(2026, 3, 6), 2) == date(2026, 3, 10)
        # A range far from the first one is read as well.
        assert calendar.add_working_days(date(2027, 6, 1), 1) == date(2027, 6, 2)
        assert calendar.previous_working_day(date(2026, 3, 10)) == date(2026, 3, 8)


def _grassroots_review_approved(demo, worker="worker1", *, before_decision=None):
    """A festival aid application past the chair's review; the queries of that decision
    (`before_decision()` runs between the claim and the decision)."""
    driver = Driver()
    case = submit_festival_aid(demo.user(worker), ric_number(int(worker[-1])))
    task = driver.open_task(case, "grassroots_review")
    services.claim(task_id=task.pk, user=demo.chair1)
    if before_decision is not None:
        before_decision()
    with CaptureQueriesContext(connection) as ctx:
        services.complete(task_id=task.pk, user=demo.chair1, decision="approve")
    return driver, case, task, ctx


def _as_if_started_afresh(monkeypatch):
    """Forget the configuration earlier operations of this process kept (core.memo)."""
    return lambda: monkeypatch.setattr(memo, "_kept", (None, {}))


def test_a_decision_reads_configuration_once(demo, monkeypatch):
    """Completing the grassroots review opens the two home-visit tasks, each with a deadline
    and a reminder, and notifies their assignees: parameters, calendar overrides and webhook
    endpoints are read once for all of it (by a process that kept none of them yet)."""
    driver, case, task, ctx = _grassroots_review_approved(
        demo, before_decision=_as_if_started_afresh(monkeypatch)
    )
    assert driver.open_task(case, "investigation") is not None
    assert _tables_read(ctx, "core_parameter") == 1
    assert _tables_read(ctx, "approvals_workingdayoverride") == 1
    assert _tables_read(ctx, "notifications_webhookendpoint") == 1


def _town_aid2_away_covered_by_county_aid(demo):
    now = timezone.now()
    services.create_delegation(
        user=demo.town_aid2,
        delegate="county_aid",
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(days=3),
    )


def test_the_holders_of_a_role_come_with_their_delegates_in_one_read(demo):
    """The two home visits go to the town's aid officers; one of them is away, so her visit
    goes to the county officer covering for her — found in the same read as everyone else's."""
    _town_aid2_away_covered_by_county_aid(demo)
    driver, case, task, ctx = _grassroots_review_approved(demo)
    visits = CaseTask.objects.filter(case=case, flow_task__endswith=".investigation")
    told = set(
        Notification.objects.filter(case=case, verb="task_created")
        .exclude(event__startswith=f"task:{task.pk}:")
        .values_list("recipient__username", flat=True)
    )
    assert visits.count() == 2
    assert "county_aid" in told and "town_aid2" not in told
    assert _tables_read(ctx, "approvals_delegation") == 1


def test_a_claim_reads_the_roles_of_the_claimer_once(demo):
    """Who may take a task by role comes from the claimer's memberships, read once per claim
    (the same read tells whom they act for)."""
    task = Driver().open_task(submit_festival_aid(demo.worker1, ric_number(1)), "grassroots_review")
    with CaptureQueriesContext(connection) as ctx:
        claimed = services.claim(task_id=task.pk, user=User.objects.get(username="chair1"))
    assert claimed.owner.username == "chair1" and claimed.on_behalf_of is None
    assert _tables_read(ctx, "organizations_membership") == 1


def test_a_delegate_may_take_a_task_offered_to_the_role_of_the_colleague_they_cover(demo):
    """county_aid holds no role at the town; covering town_aid2, they see and take the town
    review offered to the town's aid officers, on town_aid2's behalf."""
    driver = Driver()
    case = submit_festival_aid(demo.worker1, ric_number(1))
    today = date.today().isoformat()
    driver.decide(case, "grassroots_review", "chair1")
    for officer in ("town_aid1", "town_aid2"):
        visit = {"visit_date": today, "verified_income": "24000.00", "findings": "Visited."}
        driver.decide(case, "investigation", officer, data=visit)
    review = driver.open_task(case, "town_review")
    county_aid = User.objects.get(username="county_aid")
    assert not selectors.queue(county_aid).filter(pk=review.pk).exists()

    _town_aid2_away_covered_by_county_aid(demo)
    county_aid = User.objects.get(username="county_aid")
    assert selectors.queue(county_aid).filter(pk=review.pk).exists()
    claimed = services.claim(task_id=review.pk, user=county_aid)
    assert claimed.owner == county_aid and claimed.on_behalf_of == demo.town_aid2


# --- kept across operations under the configuration's generation (PostgreSQL) ----------------


def _visits_due(case):
    """When the two home visits the grassroots review opened are due."""
    return max(
        CaseTask.objects.filter(case=case, flow_task__endswith=".investigation").values_list(
            "due_at", flat=True
        )
    )


def _configuration_reads(ctx):
    return {
        table: _tables_read(ctx, table)
        for table in (
            "core_parameter",
            "approvals_workingdayoverride",
            "notifications_webhookendpoint",
        )
    }


NONE_READ = {
    "core_parameter": 0,
    "approvals_workingdayoverride": 0,
    "notifications_webhookendpoint": 0,
}
EACH_READ_ONCE = dict.fromkeys(NONE_READ, 1)
LONGER_VISITS = {"key": "hardship.investigation_working_days", "effective_from": date(2000, 1, 1)}


@pytest.mark.postgres
def test_a_second_decision_reuses_the_configuration_the_first_read(demo):
    _grassroots_review_approved(demo, "worker1")
    _driver, _case, _task, ctx = _grassroots_review_approved(demo, "worker2")
    assert _configuration_reads(ctx) == NONE_READ


@pytest.mark.postgres
def test_a_submission_reuses_the_configuration_earlier_operations_read(demo):
    """A new case's first task has a deadline and its holders are notified: the submission
    takes the calendar and the webhook endpoints an earlier operation kept."""
    _grassroots_review_approved(demo, "worker1")
    with CaptureQueriesContext(connection) as ctx:
        case = submit_festival_aid(demo.worker2, ric_number(2))
    assert Driver().open_task(case, "grassroots_review").due_at is not None
    reads = _configuration_reads(ctx)
    assert reads["approvals_workingdayoverride"] == reads["notifications_webhookendpoint"] == 0


@pytest.mark.postgres
def test_a_changed_configuration_applies_to_the_next_decision(demo):
    _driver, first, _task, _ctx = _grassroots_review_approved(demo, "worker1")
    endpoints = []

    def change():  # after the second case's submission and claim, before its decision
        Parameter.objects.create(value=15, **LONGER_VISITS)  # 5 working days by default
        endpoints.append(
            WebhookEndpoint.objects.create(
                organization=first.organization, name="robot", url="http://127.0.0.1:9/hook"
            )
        )

    _driver, second, _task, ctx = _grassroots_review_approved(
        demo, "worker2", before_decision=change
    )
    [endpoint] = endpoints

    assert _configuration_reads(ctx) == EACH_READ_ONCE
    assert _visits_due(second) - _visits_due(first) >= timedelta(days=12)  # 10 working days
    assert Delivery.objects.filter(endpoint=endpoint, event__contains=":").exists()


@pytest.mark.postgres
def test_a_change_rolled_back_leaves_nothing_behind(demo):
    _driver, first, _task, _ctx = _grassroots_review_approved(demo, "worker1")
    with pytest.raises(RuntimeError), transaction.atomic():
        Parameter.objects.create(value=15, **LONGER_VISITS)
        _driver, undone, _task, _ctx = _grassroots_review_approved(demo, "worker2")
        assert _visits_due(undone) - _visits_due(first) >= timedelta(days=12)
        raise RuntimeError("changed our mind")

    _driver, third, _task, _ctx = _grassroots_review_approved(demo, "worker2")
    assert abs(_visits_due(third) - _visits_due(first)) < timedelta(days=1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_change_is_seen_when_it_commits_not_before(demo):
    """Another officer's session changes a parameter: decisions made while that change is
    uncommitted keep the old value, the first one after its commit has the new one."""
    _driver, first, _task, _ctx = _grassroots_review_approved(demo, "worker1")
    changed, may_commit = threading.Event(), threading.Event()

    def change():
        try:
            with transaction.atomic():
                Parameter.objects.create(value=15, **LONGER_VISITS)
                changed.set()
                may_commit.wait(20)
        finally:
            connection.close()

    thread = threading.Thread(target=change)
    thread.start()
    assert changed.wait(20)
    _driver, before_commit, _task, _ctx = _grassroots_review_approved(demo, "worker2")
    may_commit.set()
    thread.join(20)
    services.withdraw(case_id=first.pk, user=demo.worker1, reason="Applied twice.")
    _driver, after_commit, _task, ctx = _grassroots_review_approved(demo, "worker1")

    assert abs(_visits_due(before_commit) - _visits_due(first)) < timedelta(days=1)
    assert _visits_due(after_commit) - _visits_due(first) >= timedelta(days=12)
    assert _configuration_reads(ctx)["core_parameter"] == 1
