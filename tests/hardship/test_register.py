"""The hardship register (档案): entries from disbursed `file` cases, the review case the beat
opens by itself when due, keeping an entry, and closing it (退档)."""

import threading
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import close_old_connections
from django.utils import timezone
from viewflow.workflow.status import STATUS

from approvals.models import CaseTask
from cases import trail
from cases.hardship.models import HardshipApplication, RegisterEntry
from cases.hardship.services import add_months
from cases.hardship.services import open_due_reviews as open_due_reviews_now
from cases.hardship.tasks import open_due_reviews
from cases.models import Case
from notifications.models import Notification

from .helpers import (
    actions,
    apply,
    approve,
    complete,
    fire,
    investigate,
    open_tasks,
    pay,
    post,
    submit,
    the_task,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def told_verbs(demo, case):
    """What the member was told of `case`, in order."""
    return list(
        Notification.objects.filter(recipient=demo.worker1, case=case)
        .order_by("pk")
        .values_list("verb", flat=True)
    )


def morning(day):
    return datetime.combine(day, time(9, 0), tzinfo=SHANGHAI)


def register(api, demo, **overrides):
    """A `file` case of worker1 taken to disbursement; returns (case, entry)."""
    case = submit(api, demo.worker1, aid_type="file", requested_amount="1200.00", **overrides)
    approve(api, demo.chair1, case, "grassroots_review")
    investigate(api, demo, case)
    end = HardshipApplication.objects.get(case=case).notice_ends_at
    with time_machine.travel(end + timedelta(minutes=1), tick=False):
        fire()
        approve(api, demo.town_aid1, case, "town_review")
        approve(api, demo.county_aid, case, "county_approval")
        assert pay(api, demo.county_finance, case).status_code == 200
        today = timezone.localdate()
    entry = RegisterEntry.objects.get(source_case=case)
    return case, entry, today


def test_a_disbursed_file_case_enters_the_register(demo, api):
    case, entry, paid_day = register(api, demo)
    assert entry.member == demo.worker1 and entry.status == "active"
    assert entry.category == "deep" and entry.started_on == paid_day
    assert entry.next_review_on == add_months(paid_day, 12)
    body = api(demo.worker1).get(f"/api/v1/cases/{case.pk}/").json()
    assert body["register_entry"] == {
        "id": entry.pk,
        "status": "active",
        "category": "deep",
        "started_on": paid_day.isoformat(),
        "next_review_on": entry.next_review_on.isoformat(),
        "closed_on": None,
    }
    event = case.trail.get(action="hardship.register_entered")
    assert event.data["next_review_on"] == entry.next_review_on.isoformat()
    # Already registered: no second file application.
    again = apply(api, demo.worker1, aid_type="file")
    assert again.status_code == 409 and again.json()["code"] == "already_registered"


def test_sudden_hardship_is_reviewed_after_six_months(demo, api):
    case, entry, paid_day = register(
        api,
        demo,
        annual_income="100000.00",
        rigid_expenses="0",
        household_size=1,
        accident_or_illness=True,
        hardship_costs="95000.00",
    )
    assert entry.category == "sudden"
    assert entry.next_review_on == add_months(paid_day, 6)


def test_add_months_keeps_the_day_or_takes_the_last():
    from datetime import date

    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 8, 15), 6) == date(2027, 2, 15)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)


def test_the_register_list_is_scoped(demo, api):
    _case, entry, _day = register(api, demo)

    def ids(user):
        response = api(user).get("/api/v1/hardship-register/")
        assert response.status_code == 200
        return [e["id"] for e in response.json()["results"]]

    assert ids(demo.county_aid) == ids(demo.town_aid2) == ids(demo.worker1) == [entry.pk]
    assert ids(demo.xs_aid1) == ids(demo.worker2) == ids(demo.chair2) == []
    closed = api(demo.county_aid).get("/api/v1/hardship-register/?status=closed").json()
    assert closed["count"] == 0


def _due_review(api, demo):
    case, entry, _day = register(api, demo)
    due = morning(entry.next_review_on)
    return case, entry, due


def test_the_review_opens_by_itself_once(demo, api):
    _case, entry, due = _due_review(api, demo)
    with time_machine.travel(due - timedelta(days=1), tick=False):
        assert open_due_reviews.run() == []  # not due yet
    with time_machine.travel(due, tick=False):
        first = open_due_reviews.run()
        second = open_due_reviews.run()  # the hourly beat again
    assert len(first) == 1 and second == []
    review = Case.objects.get(number=first[0])
    assert HardshipApplication.objects.filter(kind="review").count() == 1
    entry.refresh_from_db()
    assert entry.review_case == review
    assert (review.process, review.applicant, review.status) == (
        "hardship",
        demo.worker1,
        "in_progress",
    )
    body = api(demo.worker1).get(f"/api/v1/cases/{review.pk}/").json()
    assert (body["kind"], body["aid_type"], body["register_entry"]["id"]) == (
        "review",
        "file",
        entry.pk,
    )
    assert body["review_due_on"] == entry.next_review_on.isoformat()
    [task] = open_tasks(review)
    assert task.flow_task.name == "register_review"
    assert task.candidate_organization.name == "东湖镇总工会"
    # Opened by the system, said so in the trail; the member is told.
    opened = review.trail.order_by("seq").first()
    assert (opened.action, opened.actor, opened.actor_role) == ("case.opened", None, "system")
    assert opened.data["register_entry"] == entry.pk
    assert Notification.objects.filter(
        recipient=demo.worker1, verb="hardship_review_opened", case=review
    ).exists()
    # A review is not the member's to withdraw.
    refused = post(api(demo.worker1), f"/api/v1/cases/{review.pk}/withdraw/", {"reason": "x"})
    assert refused.status_code == 409


def test_a_review_keeps_the_entry_until_the_next_review(demo, api):
    _case, entry, due = _due_review(api, demo)
    with time_machine.travel(due, tick=False):
        [number] = open_due_reviews.run()
        review = Case.objects.get(number=number)
        task = the_task(review, "register_review")
        changed = complete(
            api(demo.town_aid2),
            task,
            "approve",
            data={"conclusion": "keep", "category": "relative", "findings": "Still in need."},
        )
        assert changed.status_code == 400 and "comment" in changed.json()["fields"]
        assert (
            complete(
                api(demo.town_aid2),
                task,
                "approve",
                data={
                    "conclusion": "keep",
                    "verified_income": "30000",
                    "findings": "Still in need.",
                },
            ).status_code
            == 200
        )
        today = timezone.localdate()
        assert open_due_reviews.run() == []
    review.refresh_from_db()
    assert (review.status, review.outcome) == ("approved", "retained")
    entry.refresh_from_db()
    assert entry.status == "active" and entry.review_case is None
    assert entry.next_review_on == add_months(today, 12)
    assert "hardship.register_retained" in actions(review)
    # The member hears that the entry stays and when it is reviewed next — not a bare
    # "register review: approved".
    told = told_verbs(demo, review)
    assert "hardship_register_retained" in told and "step_decided" not in told
    kept = Notification.objects.get(
        recipient=demo.worker1, case=review, verb="hardship_register_retained"
    )
    assert kept.data["next_review_on"] == entry.next_review_on.isoformat()
    assert "case_approved" in told
    assert trail.verify(review).valid
    # The next year's review opens in its turn.
    with time_machine.travel(morning(entry.next_review_on), tick=False):
        assert len(open_due_reviews.run()) == 1


def test_exit_from_the_register_with_notice_and_county_approval(demo, api):
    _case, entry, due = _due_review(api, demo)
    with time_machine.travel(due, tick=False):
        [number] = open_due_reviews.run()
        review = Case.objects.get(number=number)
        task = the_task(review, "register_review")
        exit_data = {"conclusion": "exit", "findings": "Both spouses employed again."}
        no_reason = complete(api(demo.town_aid1), task, "approve", data=exit_data)
        assert no_reason.status_code == 400 and "comment" in no_reason.json()["fields"]
        assert (
            complete(
                api(demo.town_aid1), task, "approve", data=exit_data, comment="Income restored."
            ).status_code
            == 200
        )
    notice = CaseTask.objects.get(case=review, flow_task__endswith=".exit_notice")
    assert notice.status == STATUS.SCHEDULED
    record = HardshipApplication.objects.get(case=review)
    assert record.review_conclusion == "exit" and record.notice_ends_at == notice.scheduled
    # The member is told of the proposed closure and its notice, not "register review:
    # approved".
    assert told_verbs(demo, review) == ["hardship_review_opened", "hardship_exit_notice"]
    assert open_tasks(review) == []
    with time_machine.travel(record.notice_ends_at + timedelta(minutes=1), tick=False):
        assert fire()["timers"] == 1
        approval = the_task(review, "exit_approval")
        assert approval.candidate_organization.name == "示范县总工会"
        assert complete(api(demo.county_aid), approval, "approve").status_code == 200
        closed_on = timezone.localdate()
    review.refresh_from_db()
    assert (review.status, review.outcome) == ("closed", "exited")
    entry.refresh_from_db()
    assert (entry.status, entry.closed_on, entry.closed_by_case) == ("closed", closed_on, review)
    told = told_verbs(demo, review)
    assert {"hardship_review_opened", "hardship_exit_notice", "hardship_register_closed"} <= set(
        told
    )
    assert "step_decided" not in told and "case_closed" in told
    closed = Notification.objects.get(
        recipient=demo.worker1, case=review, verb="hardship_register_closed"
    )
    assert closed.data["closed_on"] == closed_on.isoformat()
    story = [e.action for e in review.trail.order_by("seq")]
    assert story[0] == "case.opened" and story[-1] == "case.closed"
    assert story.index("hardship.exit_notice_started") < story.index("hardship.register_closed")
    assert trail.verify(review).valid
    # A closed entry is not reviewed again; the member may apply anew.
    with time_machine.travel(morning(add_months(entry.next_review_on, 24)), tick=False):
        assert open_due_reviews.run() == []
    assert apply(api, demo.worker1, aid_type="file").status_code == 201


def test_the_county_may_refuse_the_exit(demo, api):
    _case, entry, due = _due_review(api, demo)
    with time_machine.travel(due, tick=False):
        [number] = open_due_reviews.run()
        review = Case.objects.get(number=number)
        complete(
            api(demo.town_aid1),
            the_task(review, "register_review"),
            "approve",
            data={"conclusion": "exit", "findings": "x"},
            comment="Income restored.",
        )
    end = HardshipApplication.objects.get(case=review).notice_ends_at
    with time_machine.travel(end + timedelta(minutes=1), tick=False):
        fire()
        assert (
            complete(
                api(demo.county_aid),
                the_task(review, "exit_approval"),
                "reject",
                comment="The new job is a three-month contract.",
            ).status_code
            == 200
        )
        today = timezone.localdate()
    review.refresh_from_db()
    assert (review.status, review.outcome) == ("approved", "retained")
    entry.refresh_from_db()
    assert entry.status == "active" and entry.next_review_on == add_months(today, 12)
    told = told_verbs(demo, review)
    assert "hardship_register_retained" in told and "step_decided" not in told


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_beat_runs_open_one_review(api):
    """Real threads and row locks (SKIP LOCKED): three beats at once open one review case."""
    from organizations.demo import seed_demo
    from tests.conftest import Demo

    seed_demo()
    _case, entry, due = _due_review(api, Demo())
    results = []
    barrier = threading.Barrier(3)

    def beat():
        try:
            barrier.wait()
            results.append(open_due_reviews_now())
        finally:
            close_old_connections()

    with time_machine.travel(due, tick=False):
        threads = [threading.Thread(target=beat) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(len(r) for r in results) == [0, 0, 1]
    assert HardshipApplication.objects.filter(kind="review", register_entry=entry).count() == 1


def _exit_on_notice(api, demo):
    """A review that proposed closing worker1's entry, its notice running."""
    _case, _entry, due = _due_review(api, demo)
    with time_machine.travel(due, tick=False):
        [number] = open_due_reviews.run()
        review = Case.objects.get(number=number)
        response = complete(
            api(demo.town_aid1),
            the_task(review, "register_review"),
            "approve",
            data={"conclusion": "exit", "findings": "Both spouses employed again."},
            comment="Income restored.",
        )
        assert response.status_code == 200
    return review, due


def test_the_closure_notice_is_listed_with_the_union_s_public_notices(demo, api, browser_client):
    """退档 is publicly noticed like 建档: the members of the union find it where they find the
    applications on notice, and may object to it."""
    review, due = _exit_on_notice(api, demo)
    end = HardshipApplication.objects.get(case=review).notice_ends_at
    with time_machine.travel(due, tick=False):
        listed = api(demo.worker2).get("/api/v1/hardship-notices/").json()["results"]
        assert [(n["case"]["number"], n["kind"], n["category"]) for n in listed] == [
            (review.number, "review", "deep")
        ]
        assert api(demo.worker3).get("/api/v1/hardship-notices/").json()["count"] == 0
        page = browser_client(demo.worker2).get("/hardship/notices/").content.decode()
        assert review.number in page and 'data-kind="review"' in page
        one = browser_client(demo.worker2).get(f"/hardship/notices/{review.pk}/")
        assert one.status_code == 200 and 'data-testid="objection"' in one.content.decode()
        # The case page tells the notice is running.
        case_page = browser_client(demo.worker1).get(f"/cases/{review.pk}/").content.decode()
        assert 'data-state="running"' in case_page
    with time_machine.travel(end + timedelta(minutes=1), tick=False):
        assert api(demo.worker2).get("/api/v1/hardship-notices/").json()["count"] == 0


def test_an_objection_to_the_closure_sends_it_back_to_the_register_review(demo, api):
    review, due = _exit_on_notice(api, demo)
    url = f"/api/v1/cases/{review.pk}/objections/"
    with time_machine.travel(due, tick=False):
        assert post(api(demo.worker3), url, {"reason": "x"}).status_code == 404  # other union
        assert post(api(demo.worker1), url, {"reason": "x"}).status_code == 403  # the member
        response = post(api(demo.worker2), url, {"reason": "His new job ended last week."})
        assert response.status_code == 201, response.json()
        assert response.json()["moved_to"] == "register_review"
    notice = CaseTask.objects.get(case=review, flow_task__endswith=".exit_notice")
    assert notice.status == STATUS.CANCELED
    assert [t.flow_task.name for t in open_tasks(review)] == ["register_review"]
    assert HardshipApplication.objects.get(case=review).notice_ends_at is None
    assert "hardship_objection" in told_verbs(demo, review)
    assert trail.verify(review).valid
