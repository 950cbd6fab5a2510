"""Supplementary declarations (补缴): only for a declaration the chair has approved and that
still stands, one at a time per declaration (also under concurrent requests), never under a
withdrawn original — and filed from the pages as well as the API."""

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import close_old_connections

from cases.models import Case
from cases.remittance.models import Remittance
from tests.helpers import complete, open_tasks, post

SHANGHAI = ZoneInfo("Asia/Shanghai")
DECLARATION = {
    "period": "2026-01",
    "payroll_total": "100000.00",
    "headcount": 120,
    "member_count": 100,
}
SUPPLEMENT = {**DECLARATION, "payroll_total": "5000.00"}
URL = "/api/v1/fee-remittances/"


def at(*args):
    return time_machine.travel(datetime(*args, tzinfo=SHANGHAI), tick=False)


def _original(demo, api, *, approve=True):
    body = post(api(demo.treasurer1), URL, DECLARATION).json()
    case = Case.objects.get(pk=body["id"])
    if approve:
        assert complete(api(demo.chair1), open_tasks(case)[0]).status_code == 200
    return case


def test_a_supplement_needs_an_approved_original(demo, api):
    with at(2026, 2, 5, 10):
        original = _original(demo, api, approve=False)
        early = post(api(demo.treasurer1), URL, {**SUPPLEMENT, "supplements": original.pk})
        assert early.status_code == 409 and "supplements" in early.json()["fields"]
        assert early.json()["code"] == "original_not_standing"
        complete(api(demo.chair1), open_tasks(original)[0])
        filed = post(api(demo.treasurer1), URL, {**SUPPLEMENT, "supplements": original.pk})
    assert filed.status_code == 201, filed.json()
    assert filed.json()["supplements"] == original.pk
    assert Remittance.objects.filter(supplements=original.pk).count() == 1


def test_a_rejected_original_takes_no_supplement(demo, api):
    with at(2026, 2, 5, 10):
        original = _original(demo, api, approve=False)
        complete(api(demo.chair1), open_tasks(original)[0], "reject", comment="漏报奖金")
        response = post(api(demo.treasurer1), URL, {**SUPPLEMENT, "supplements": original.pk})
    assert response.status_code in (400, 409) and "supplements" in response.json()["fields"]
    assert not Remittance.objects.filter(supplements__isnull=False).exists()


def test_one_supplement_at_a_time(demo, api):
    with at(2026, 2, 5, 10):
        original = _original(demo, api)
        first = post(api(demo.treasurer1), URL, {**SUPPLEMENT, "supplements": original.pk})
        second = post(api(demo.treasurer1), URL, {**SUPPLEMENT, "supplements": original.pk})
        assert first.status_code == 201
        assert second.status_code == 409 and second.json()["code"] == "supplement_in_progress"
        # Once the first is withdrawn, another correction may be filed.
        withdrawn = post(
            api(demo.treasurer1),
            f"/api/v1/cases/{first.json()['id']}/withdraw/",
            {"reason": "数字有误"},
        )
        assert withdrawn.status_code == 200
        again = post(api(demo.treasurer1), URL, {**SUPPLEMENT, "supplements": original.pk})
    assert again.status_code == 201


def test_an_original_with_a_supplement_cannot_be_withdrawn(demo, api):
    with at(2026, 2, 5, 10):
        original = _original(demo, api)
        supplement = post(api(demo.treasurer1), URL, {**SUPPLEMENT, "supplements": original.pk})
        assert supplement.status_code == 201
        refused = post(
            api(demo.treasurer1), f"/api/v1/cases/{original.pk}/withdraw/", {"reason": "x"}
        )
        assert refused.status_code == 409
        original.refresh_from_db()
        assert original.status == "in_progress" and not original.remittance.voided
        # With the supplement withdrawn, nothing rests on the original any more.
        post(
            api(demo.treasurer1),
            f"/api/v1/cases/{supplement.json()['id']}/withdraw/",
            {"reason": "x"},
        )
        allowed = post(
            api(demo.treasurer1), f"/api/v1/cases/{original.pk}/withdraw/", {"reason": "x"}
        )
    assert allowed.status_code == 200


@pytest.mark.parametrize("value", [9223372036854775808, 10**30, 0, -1])
def test_an_impossible_original_id_is_400_naming_it(demo, api, value):
    with at(2026, 2, 5, 10):
        response = post(api(demo.treasurer1), URL, {**SUPPLEMENT, "supplements": value})
    assert response.status_code == 400, response.content
    assert "supplements" in response.json()["fields"]
    assert not Case.objects.exists()


def test_a_supplement_of_another_period_is_400(demo, api):
    with at(2026, 2, 5, 10):
        original = _original(demo, api)
        response = post(
            api(demo.treasurer1),
            URL,
            {**SUPPLEMENT, "period": "2025-12", "supplements": original.pk},
        )
    assert response.status_code == 400 and "supplements" in response.json()["fields"]


# --- the pages ---------------------------------------------------------------------------


def test_the_original_case_page_offers_the_supplement_and_the_form_files_it(
    demo, api, browser_client
):
    with at(2026, 2, 5, 10):
        original = _original(demo, api)
        client = browser_client(demo.treasurer1)
        page = client.get(f"/cases/{original.pk}/").content.decode()
        assert 'data-testid="declare-supplement"' in page
        link = f"/remittance/declare/?supplements={original.pk}"
        assert link in page
        form = client.get(link).content.decode()
        assert 'name="supplements"' in form
        assert f'<option value="{original.pk}" selected>' in form
        filed = client.post(
            "/remittance/declare/",
            {
                "period": "2026-01",
                "payroll_total": "5000.00",
                "headcount": "120",
                "member_count": "100",
                "supplements": original.pk,
            },
        )
        assert filed.status_code == 302
        supplement = Remittance.objects.get(supplements=original.pk)
        assert filed["Location"] == f"/cases/{supplement.case_id}/"
        assert supplement.fund_due == 100  # 5000 × 2 %
        # While it is in progress the original offers no second one; the form refuses it.
        page = client.get(f"/cases/{original.pk}/").content.decode()
        assert 'data-testid="declare-supplement"' not in page
        again = client.post(
            "/remittance/declare/",
            {
                "period": "2026-01",
                "payroll_total": "5000.00",
                "headcount": "120",
                "member_count": "100",
                "supplements": original.pk,
            },
        )
    assert again.status_code == 409 and 'id="id_supplements-error"' in again.content.decode()
    assert Remittance.objects.filter(supplements=original.pk).count() == 1


def test_the_form_offers_only_standing_originals(demo, api, browser_client):
    with at(2026, 2, 5, 10):
        client = browser_client(demo.treasurer1)
        assert 'name="supplements"' not in client.get("/remittance/declare/").content.decode()
        pending = _original(demo, api, approve=False)
        assert 'name="supplements"' not in client.get("/remittance/declare/").content.decode()
        assert 'data-testid="declare-supplement"' not in (
            client.get(f"/cases/{pending.pk}/").content.decode()
        )
        complete(api(demo.chair1), open_tasks(pending)[0])
        form = client.get("/remittance/declare/").content.decode()
    assert 'name="supplements"' in form and f'value="{pending.pk}"' in form
    # Not offered to someone who may not declare for the union.
    page = browser_client(demo.chair1).get(f"/cases/{pending.pk}/").content.decode()
    assert 'data-testid="declare-supplement"' not in page


def test_a_regular_declaration_from_the_form_still_needs_no_original(demo, api, browser_client):
    with at(2026, 3, 5, 10):
        _original(demo, api)  # 2026-01, approved: the form now offers it
        response = browser_client(demo.treasurer1).post(
            "/remittance/declare/",
            {**DECLARATION, "period": "2026-02", "supplements": ""},
        )
    assert response.status_code == 302
    assert Remittance.objects.get(period__month=2).supplements is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_supplements_of_one_declaration(api):
    from organizations.demo import seed_demo
    from organizations.models import User

    seed_demo()
    treasurer = User.objects.get(username="treasurer1")
    chair = User.objects.get(username="chair1")
    with at(2026, 2, 5, 10):
        original = post(api(treasurer), URL, DECLARATION).json()["id"]
        complete(api(chair), open_tasks(Case.objects.get(pk=original))[0])
    client = api(treasurer)
    barrier = threading.Barrier(2)
    results = []

    def go():
        try:
            barrier.wait()
            results.append(post(client, URL, {**SUPPLEMENT, "supplements": original}).status_code)
        finally:
            close_old_connections()

    with at(2026, 2, 5, 11):
        threads = [threading.Thread(target=go) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results) == [201, 409]
    assert Remittance.objects.filter(supplements=original).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_supplement_and_the_originals_withdrawal_at_once(api):
    """Either the supplement is filed and the withdrawal refused, or the original is withdrawn
    and the supplement refused: never a supplement resting on a withdrawn declaration."""
    from organizations.demo import seed_demo
    from organizations.models import User

    seed_demo()
    treasurer = User.objects.get(username="treasurer1")
    chair = User.objects.get(username="chair1")
    with at(2026, 2, 5, 10):
        original = post(api(treasurer), URL, DECLARATION).json()["id"]
        complete(api(chair), open_tasks(Case.objects.get(pk=original))[0])
    barrier = threading.Barrier(2)
    results = {}

    def supplement():
        try:
            barrier.wait()
            body = {**SUPPLEMENT, "supplements": original}
            results["supplement"] = post(api(treasurer), URL, body).status_code
        finally:
            close_old_connections()

    def withdraw():
        try:
            barrier.wait()
            url = f"/api/v1/cases/{original}/withdraw/"
            results["withdraw"] = post(api(treasurer), url, {"reason": "x"}).status_code
        finally:
            close_old_connections()

    with at(2026, 2, 5, 11):
        threads = [threading.Thread(target=supplement), threading.Thread(target=withdraw)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results.values()) in ([200, 409], [201, 409])
    withdrawn = Case.objects.get(pk=original).status == "withdrawn"
    supplemented = Remittance.objects.filter(supplements=original).exists()
    assert withdrawn != supplemented
