"""The statutory mediation term (Art. 14): reminders before it, expiry by the beat job exactly
once, extension only with both parties' consent; the performance follow-up."""

import threading

import pytest
import time_machine
from django.db import connection

from cases.mediation.models import MediationCase
from cases.mediation.tasks import enforce_statutory_terms
from cases.models import Case
from notifications.models import Notification
from tests.helpers import actions, complete

from .helpers import (
    accept,
    agree,
    assign,
    at,
    detail,
    filed,
    pdf_text,
    post,
    session,
    sign_all,
    task,
    verbs,
)

pytestmark = pytest.mark.django_db


def beat():
    return enforce_statutory_terms.run()


def _extend(api, user, case, **data):
    return post(api(user), f"/api/v1/mediation-cases/{case.pk}/extensions/", data)


@pytest.fixture
def mediating(demo, api):
    """Received Mon 2 Mar 2026 09:00: the term ends at the end of Tue 17 Mar."""
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = filed(api, demo.worker1, demo)
        accept(api, demo, case)
        assign(api, demo, case, "mediator1")
        session(api, demo.mediator1, case)
    return case


def test_expiry_fired_by_the_beat_exactly_once(demo, api, mediating):
    case = mediating
    with time_machine.travel(at(2026, 3, 14, 23, 59, 0), tick=False):
        assert beat() == {"expired": 0, "lapsed": 0, "reminded": 0, "followed_up": 0}
    with time_machine.travel(at(2026, 3, 15, 0, 0, 30), tick=False):
        # Three days before the end of the term: 15, 16 and 17 March remain.
        assert beat() == {"expired": 0, "lapsed": 0, "reminded": 1, "followed_up": 0}
        assert beat()["reminded"] == 0
    for user in (demo.mediator1, demo.med_head):
        assert user.notifications.filter(case=case, verb="mediation_term_due_soon").count() == 1
    with time_machine.travel(at(2026, 3, 17, 23, 59, 0), tick=False):
        assert beat()["expired"] == 0  # still within the last day
    with time_machine.travel(at(2026, 3, 18, 0, 0, 30), tick=False):
        assert beat() == {"expired": 1, "lapsed": 0, "reminded": 0, "followed_up": 0}
        assert beat() == {"expired": 0, "lapsed": 0, "reminded": 0, "followed_up": 0}
    with time_machine.travel(at(2026, 3, 18, 0, 1, 30), tick=False):
        assert beat()["expired"] == 0

    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "expired")
    data = detail(api, demo.worker1, case)
    assert data["open_tasks"] == []
    assert data["expired_at"] == at(2026, 3, 18, 0, 0, 30).isoformat()
    assert data["notice"]["kind"] == "expired"
    assert task_status(case, "mediation") == "CANCELED"
    assert actions(case).count("mediation.term_expired") == 1
    assert actions(case)[-1] == "case.closed"
    for user in (demo.worker1, demo.mediator1, demo.med_head):
        assert user.notifications.filter(case=case, verb="mediation_expired").count() == 1
    text = pdf_text(api(demo.worker1).get(data["notice"]["pdf"]))
    assert "终止调解通知书" in text and "调解期限届满" in text and "2026年3月17日" in text
    assert "第十四条" in text and "申请仲裁" in text
    # Nothing more can be recorded on it.
    assert session(api, demo.mediator1, case).status_code == 409


def task_status(case, step):
    return case.tasks.filter(flow_task__endswith=f".{step}").values_list("status", flat=True).get()


def test_expiry_before_acceptance_and_during_signing(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        unanswered = filed(api, demo.worker1, demo)
        unsealed = filed(api, demo.worker1, demo)
        accept(api, demo, unsealed)
        assign(api, demo, unsealed)
        session(api, demo.mediator1, unsealed)
        agree(api, demo.mediator1, unsealed)
    with time_machine.travel(at(2026, 3, 18, 8, 0), tick=False):
        assert beat()["expired"] == 2
    for case in (unanswered, unsealed):
        case.refresh_from_db()
        assert (case.status, case.outcome) == ("closed", "expired")
    # An agreement not yet signed and sealed never took effect.
    assert MediationCase.objects.get(case=unsealed).effective_at is None


def test_an_effective_agreement_stops_the_clock_and_its_performance_is_followed_up(
    demo, api, mediating
):
    case = mediating
    with time_machine.travel(at(2026, 3, 10, 9, 0), tick=False):
        agree(api, demo.mediator1, case, performance_deadline="2026-03-25")
        sign_all(api, demo, case)
    with time_machine.travel(at(2026, 3, 20, 9, 0), tick=False):
        assert beat() == {"expired": 0, "lapsed": 0, "reminded": 0, "followed_up": 0}
    with time_machine.travel(at(2026, 3, 26, 0, 5), tick=False):
        assert beat() == {"expired": 0, "lapsed": 0, "reminded": 0, "followed_up": 1}
        assert beat()["followed_up"] == 0
    case.refresh_from_db()
    assert case.status == "in_progress"
    assert (
        demo.mediator1.notifications.filter(case=case, verb="mediation_performance_due").count()
        == 1
    )
    assert "mediation.performance_due" in actions(case)


def test_an_agreement_unsealed_by_its_performance_deadline_goes_back_to_mediation(
    demo, api, mediating
):
    case = mediating
    with time_machine.travel(at(2026, 3, 10, 9, 0), tick=False):
        agree(api, demo.mediator1, case, performance_deadline="2026-03-12")
        for party in ("worker", "employer"):
            assert (
                post(
                    api(demo.mediator1),
                    f"/api/v1/mediation-cases/{case.pk}/signatures/",
                    {"party": party},
                ).status_code
                == 201
            )
    with time_machine.travel(at(2026, 3, 12, 23, 59), tick=False):
        assert beat()["lapsed"] == 0  # the deadline's own day: it may still be signed
    with time_machine.travel(at(2026, 3, 13, 0, 0, 30), tick=False):
        assert beat() == {"expired": 0, "lapsed": 1, "reminded": 0, "followed_up": 0}
        assert beat()["lapsed"] == 0
        data = detail(api, demo.worker1, case)
        assert [t["step"] for t in data["open_tasks"]] == ["mediation"]
        assert data["agreement"] is None and data["mediation_outcome"] is None
        assert task(case, "mediation").owner == demo.mediator1
        for user in (demo.worker1, demo.mediator1, demo.med_head):
            assert "mediation_agreement_lapsed" in verbs(user, case)
        assert "mediation.agreement_lapsed" in actions(case)
        # The mediator records a new outcome; signed and sealed, it takes effect.
        agree(api, demo.mediator1, case, performance_deadline="2026-03-20")
        sign_all(api, demo, case)
    record = MediationCase.objects.get(case=case)
    assert record.effective_at == at(2026, 3, 13, 0, 0, 30)
    assert record.performance_deadline.isoformat() == "2026-03-20"


def test_extension_with_both_consents_moves_the_deadline(demo, api, mediating):
    case = mediating
    with time_machine.travel(at(2026, 3, 15, 9, 0), tick=False):
        assert beat()["reminded"] == 1
        response = _extend(
            api,
            demo.mediator1,
            case,
            worker_consent=True,
            employer_consent=True,
            days=10,
            note="双方书面同意延长",
        )
        assert response.status_code == 201, response.json()
        data = response.json()
        assert data["statutory_deadline"] == at(2026, 3, 27, 23, 59, 59).isoformat()
        [extension] = data["extensions"]
        assert extension["previous_deadline"] == at(2026, 3, 17, 23, 59, 59).isoformat()
        assert extension["new_deadline"] == data["statutory_deadline"]
        assert extension["worker_consent"] is extension["employer_consent"] is True
        assert extension["recorded_by"] == "mediator1" and extension["note"] == "双方书面同意延长"
        assert "mediation_term_extended" in verbs(demo.worker1, case)
        response = _extend(
            api, demo.med_head, case, worker_consent=True, employer_consent=True, until="2026-03-31"
        )
        assert response.status_code == 201
        assert response.json()["statutory_deadline"] == at(2026, 3, 31, 23, 59, 59).isoformat()
        assert len(response.json()["extensions"]) == 2
    with time_machine.travel(at(2026, 3, 18, 9, 0), tick=False):
        assert beat()["expired"] == 0
    with time_machine.travel(at(2026, 3, 28, 9, 0), tick=False):
        assert beat()["reminded"] == 0
    with time_machine.travel(at(2026, 3, 29, 9, 0), tick=False):
        assert beat()["reminded"] == 1  # a new reminder for the new deadline
    with time_machine.travel(at(2026, 4, 1, 0, 0, 30), tick=False):
        assert beat()["expired"] == 1
    case.refresh_from_db()
    assert case.outcome == "expired"
    assert actions(case).count("mediation.term_extended") == 2


@pytest.mark.parametrize(
    "consents, fields",
    [
        ({"worker_consent": True, "employer_consent": False}, {"employer_consent"}),
        ({"worker_consent": False, "employer_consent": True}, {"worker_consent"}),
        (
            {"worker_consent": False, "employer_consent": False},
            {"worker_consent", "employer_consent"},
        ),
        ({"worker_consent": True}, {"employer_consent"}),
    ],
)
def test_extension_without_both_consents_is_refused(demo, api, mediating, consents, fields):
    case = mediating
    with time_machine.travel(at(2026, 3, 14, 9, 0), tick=False):
        response = _extend(api, demo.mediator1, case, days=10, **consents)
    assert response.status_code == 400
    assert fields <= set(response.json()["fields"])
    record = MediationCase.objects.get(case=case)
    assert record.statutory_deadline == at(2026, 3, 17, 23, 59, 59)
    assert record.extensions == []
    with time_machine.travel(at(2026, 3, 18, 0, 0, 30), tick=False):
        assert beat()["expired"] == 1


def test_extension_rules(demo, api, mediating):
    case = mediating
    both = {"worker_consent": True, "employer_consent": True}
    with time_machine.travel(at(2026, 3, 14, 9, 0), tick=False):
        response = _extend(api, demo.mediator1, case, **both)
        assert response.status_code == 400 and "until" in response.json()["fields"]
        response = _extend(api, demo.mediator1, case, until="2026-03-16", **both)
        assert response.status_code == 400 and "until" in response.json()["fields"]
        assert _extend(api, demo.worker1, case, days=5, **both).status_code == 403
        assert _extend(api, demo.mediator2, case, days=5, **both).status_code == 403
    with time_machine.travel(at(2026, 3, 18, 0, 0, 10), tick=False):
        # Past the term (before the beat has run): too late.
        response = _extend(api, demo.mediator1, case, days=5, **both)
        assert response.status_code == 409 and response.json()["code"] == "term_passed"


def test_repeated_runs_expire_and_notify_once(demo, api, mediating):
    """Repeated runs: the marker and the closed status keep it to one; see the PostgreSQL
    test below for concurrent runs."""
    case = mediating
    with time_machine.travel(at(2026, 3, 18, 9, 0), tick=False):
        results = [beat()["expired"] for _ in range(3)]
    assert results == [1, 0, 0]
    told = Notification.objects.filter(case=case, verb="mediation_expired")
    assert sorted(told.values_list("recipient__username", flat=True)) == [
        "med_head",
        "mediator1",
        "worker1",
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_beat_runs_expire_once(demo, api):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        cases = [filed(api, demo.worker1, demo) for _ in range(3)]
        for case in cases:
            accept(api, demo, case)
    results = []
    barrier = threading.Barrier(3)

    def run():
        try:
            with time_machine.travel(at(2026, 3, 18, 9, 0), tick=False):
                barrier.wait()
                results.append(beat()["expired"])
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 3
    for case in cases:
        case.refresh_from_db()
        assert case.outcome == "expired"
        assert actions(case).count("mediation.term_expired") == 1
        assert actions(case).count("case.closed") == 1
        told = Notification.objects.filter(case=case, verb="mediation_expired")
        assert sorted(told.values_list("recipient__username", flat=True)) == ["med_head", "worker1"]
    assert Case.objects.filter(status="in_progress").count() == 0


def test_the_signing_task_is_not_left_open_after_expiry(demo, api, mediating):
    case = mediating
    with time_machine.travel(at(2026, 3, 16, 9, 0), tick=False):
        agree(api, demo.mediator1, case)
        signing = task(case, "signing")
    with time_machine.travel(at(2026, 3, 18, 9, 0), tick=False):
        beat()
        response = complete(api(demo.mediator1), signing, "submit")
        assert response.status_code in (404, 409)
        response = post(
            api(demo.mediator1),
            f"/api/v1/mediation-cases/{case.pk}/signatures/",
            {"party": "worker"},
        )
        assert response.status_code == 409
