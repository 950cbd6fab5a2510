"""Working-day deadlines, reminders, escalation and timeout actions fired by the beat job."""

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from approvals import calendar
from approvals.models import CaseTask, WorkingDayOverride
from approvals.tasks import process_deadlines
from cases import trail
from core.models import Parameter
from notifications.models import Notification
from tests.helpers import complete, open_tasks, submit

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args):
    return datetime(*args, tzinfo=SHANGHAI)


def run_beat():
    return process_deadlines.run()


@pytest.mark.django_db
def test_working_days_across_spring_festival_2026():
    # Fri 13 Feb; Sat 14 Feb is a make-up working day; 15–23 Feb are the holiday.
    assert calendar.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert calendar.add_working_days(date(2026, 2, 13), 2) == date(2026, 2, 24)
    assert calendar.add_working_days(date(2026, 2, 13), 5) == date(2026, 2, 27)
    assert calendar.previous_working_day(date(2026, 2, 24)) == date(2026, 2, 14)


@pytest.mark.django_db
def test_year_without_calendar_data_falls_back_to_weekdays(caplog):
    calendar._warned_years.discard(2027)
    with caplog.at_level(logging.WARNING, logger="approvals.calendar"):
        # Thu 31 Dec 2026 (known), then 2027 unknown: Mon–Fri.
        assert calendar.add_working_days(date(2026, 12, 30), 5) == date(2027, 1, 6)
    assert "No official calendar for 2027" in caplog.text
    WorkingDayOverride.objects.create(date=date(2027, 1, 1), is_working_day=False, note="元旦")
    assert calendar.add_working_days(date(2026, 12, 30), 5) == date(2027, 1, 7)
    WorkingDayOverride.objects.create(date=date(2027, 1, 9), is_working_day=True, note="调休")
    assert calendar.add_working_days(date(2027, 1, 7), 2) == date(2027, 1, 9)


def test_task_due_dates_across_the_holiday(demo):
    with time_machine.travel(at(2026, 2, 13, 10, 0), tick=False):
        case = submit("levels_sample", demo.worker1)
    [review] = open_tasks(case)
    assert review.due_at == at(2026, 2, 27, 23, 59, 59)
    assert review.remind_at == at(2026, 2, 26, 23, 59, 59)


def test_task_due_dates_into_2027(demo):
    calendar._warned_years.discard(2027)
    with time_machine.travel(at(2026, 12, 30, 9, 0), tick=False):
        case = submit("levels_sample", demo.worker1)
    assert open_tasks(case)[0].due_at == at(2027, 1, 6, 23, 59, 59)


def test_overdue_filter(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        late = submit("levels_sample", demo.worker1)
    with time_machine.travel(at(2026, 3, 20, 9, 0), tick=False):
        fresh = submit("levels_sample", demo.worker2)
        chair = api(demo.chair1)
        queue = chair.get("/api/v1/tasks/?view=queue&overdue=true").json()["results"]
        assert [t["case"]["id"] for t in queue] == [late.pk] and queue[0]["overdue"] is True
        cases = chair.get("/api/v1/cases/?overdue=true").json()["results"]
        assert [c["id"] for c in cases] == [late.pk]
        assert [c["id"] for c in chair.get("/api/v1/cases/?overdue=false").json()["results"]] == [
            fresh.pk
        ]


def test_reminder_once_before_due(demo):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):  # Monday
        case = submit("levels_sample", demo.worker1)
    [review] = open_tasks(case)
    with time_machine.travel(review.remind_at - timedelta(minutes=1), tick=False):
        assert run_beat() == {"reminded": 0, "escalated": 0}
    with time_machine.travel(review.remind_at + timedelta(minutes=1), tick=False):
        assert run_beat() == {"reminded": 1, "escalated": 0}
        assert run_beat() == {"reminded": 0, "escalated": 0}
    assert Notification.objects.filter(recipient=demo.chair1, verb="task_due_soon").count() == 1
    assert case.trail.filter(action="task.reminded").count() == 1


def _to_town_review(demo, api, when):
    with time_machine.travel(when, tick=False):
        case = submit("levels_sample", demo.worker1, amount="6000")
        complete(api(demo.chair1), open_tasks(case)[0])
    return case


def test_overdue_escalates_and_reassigns_up_once(demo, api):
    case = _to_town_review(demo, api, at(2026, 3, 2, 9, 0))
    [town] = open_tasks(case)
    assert town.due_at == at(2026, 3, 4, 23, 59, 59)
    with time_machine.travel(at(2026, 3, 5, 8, 0), tick=False):
        assert run_beat()["escalated"] == 1
        assert run_beat()["escalated"] == 0
    town.refresh_from_db()
    assert town.candidate_organization.name == "示范县总工会" and town.status == "NEW"
    assert town.due_at == at(2026, 3, 9, 23, 59, 59)  # two working days from Thursday
    overdue = case.trail.get(action="task.overdue")
    assert overdue.data["notified"] == ["county_aid"] and overdue.data["action"] == "reassign_up"
    assert case.trail.filter(action="task.reassigned").count() == 1
    assert Notification.objects.filter(recipient=demo.county_aid, verb="task_overdue").count() == 1
    # The town officers no longer see it; the county's officer does.
    assert api(demo.town_aid1).get("/api/v1/tasks/?view=queue").json()["count"] == 0
    assert [
        t["id"] for t in api(demo.county_aid).get("/api/v1/tasks/?view=queue").json()["results"]
    ] == [town.pk]
    assert trail.verify(case).valid


def test_timeout_auto_approve_then_auto_reject(demo, api):
    case = _to_town_review(demo, api, at(2026, 3, 2, 9, 0))
    with time_machine.travel(at(2026, 3, 3, 9, 0), tick=False):
        complete(api(demo.town_aid1), open_tasks(case)[0])
    [confirm] = open_tasks(case)
    assert confirm.flow_task.name == "town_confirm" and confirm.due_at == at(2026, 3, 6, 23, 59, 59)
    with time_machine.travel(at(2026, 3, 7, 0, 5), tick=False):
        assert run_beat()["escalated"] == 1
        assert run_beat()["escalated"] == 0
    confirm.refresh_from_db()
    assert (
        confirm.status == "DONE" and confirm.decision == "approve" and confirm.completed_by is None
    )
    system = case.trail.filter(action="task.completed").last()
    assert (
        system.actor is None
        and system.actor_role == "system"
        and system.data["reason"] == "timeout"
    )
    [county] = open_tasks(case)
    assert county.flow_task.name == "county_approval"
    with time_machine.travel(county.due_at + timedelta(minutes=1), tick=False):
        run_beat()
        run_beat()
    case.refresh_from_db()
    assert case.status == "rejected"
    assert case.trail.filter(action="task.overdue").count() == 2
    assert trail.verify(case).valid


@pytest.mark.parametrize(
    "amount, county_needed", [("5000.00", False), ("5000.01", True), ("100", False)]
)
def test_county_step_only_above_the_threshold(demo, api, amount, county_needed):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = submit("levels_sample", demo.worker1, amount=amount)
        complete(api(demo.chair1), open_tasks(case)[0])
        complete(api(demo.town_aid1), open_tasks(case)[0])
        complete(api(demo.town_aid2), open_tasks(case)[0])
    case.refresh_from_db()
    if county_needed:
        assert open_tasks(case)[0].flow_task.name == "county_approval"
    else:
        assert case.status == "approved"
        skipped = case.trail.get(action="step.skipped")
        assert skipped.step == "county_approval"


def test_threshold_is_configuration_per_organization(demo, api):
    Parameter.objects.create(
        key="tests.county_threshold",
        organization=demo.org("东湖镇总工会"),
        effective_from=date(2026, 1, 1),
        value=Decimal("10000"),
    )
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = submit("levels_sample", demo.worker1, amount="6000")
        for user in (demo.chair1, demo.town_aid1, demo.town_aid2):
            complete(api(user), open_tasks(case)[0])
    case.refresh_from_db()
    assert case.status == "approved"  # 6000 ≤ the town's own threshold of 10000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_beat_runs_act_once():
    import threading

    from django.db import close_old_connections

    from organizations.demo import seed_demo
    from organizations.models import User

    seed_demo()
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = submit("levels_sample", User.objects.get(username="worker1"))
    review = open_tasks(case)[0]
    results = []
    barrier = threading.Barrier(3)

    def beat():
        try:
            barrier.wait()
            results.append(run_beat()["escalated"])
        finally:
            close_old_connections()

    with time_machine.travel(review.due_at + timedelta(minutes=1), tick=False):
        threads = [threading.Thread(target=beat) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sum(results) == 1
    assert case.trail.filter(action="task.overdue").count() == 1
    assert CaseTask.objects.get(pk=review.pk).escalated_at is not None
