"""One operation reads configuration once; the next operation sees a change at once.

A decision opens tasks, computes their deadlines and reminders from parameters and the
official calendar, and notifies people through webhook endpoints. Those rows are read once per
operation (core.memo), never remembered across operations."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals import calendar, selectors, services
from approvals.models import CaseTask, WorkingDayOverride
from bench.engine import Driver, ric_number, submit_festival_aid
from core import memo
from core.config import parameter
from core.models import Parameter
from notifications.models import Notification
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


def _grassroots_review_approved(demo):
    """A festival aid application past the chair's review; the queries of that decision."""
    driver = Driver()
    case = submit_festival_aid(demo.worker1, ric_number(1))
    task = driver.open_task(case, "grassroots_review")
    services.claim(task_id=task.pk, user=demo.chair1)
    with CaptureQueriesContext(connection) as ctx:
        services.complete(task_id=task.pk, user=demo.chair1, decision="approve")
    return driver, case, task, ctx


def test_a_decision_reads_configuration_once(demo):
    """Completing the grassroots review opens the two home-visit tasks, each with a deadline
    and a reminder, and notifies their assignees: parameters, calendar overrides and webhook
    endpoints are read once for all of it."""
    driver, case, task, ctx = _grassroots_review_approved(demo)
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
