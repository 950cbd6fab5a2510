"""What a reader sees on the case pages, in Chinese (the site's default): field labels,
rates as percentages, times in local time, the trail's events and roles by name, a finished
case's outcome by name, mediation's missing signatures by name and who applies the seal, and
Django's own form messages ending with a Chinese full stop."""

import re
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django import forms
from django.db import transaction
from django.test import Client
from django.utils import translation

from cases import trail
from cases.labels import ACTIONS
from cases.models import Case
from tests.cases.test_action_labels import emitted_actions
from tests.helpers import complete, open_tasks, post

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args):
    return time_machine.travel(datetime(*args, tzinfo=SHANGHAI), tick=False)


def page_of(user, case):
    client = Client()  # no Accept-Language: the site's default, Chinese
    client.force_login(user)
    response = client.get(f"/cases/{case.pk}/")
    assert response.status_code == 200
    return unescape(response.content.decode())


def field(page, label):
    """The value shown next to a field label of the case page ("<dt>label</dt><dd>…</dd>")."""
    found = re.search(rf"<dt>{re.escape(label)}</dt><dd>(.*?)</dd>", page, re.S)
    return found.group(1).strip() if found else None


def shown_text(page):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


# --- fee remittance --------------------------------------------------------------------------


def _verified_remittance(demo, api):
    with at(2026, 2, 5, 10):
        created = post(
            api(demo.treasurer1),
            "/api/v1/fee-remittances/",
            {
                "period": "2026-01",
                "payroll_total": "100000.00",
                "headcount": 120,
                "member_count": 100,
            },
        )
        assert created.status_code == 201, created.json()
        case = Case.objects.get(pk=created.json()["id"])
        assert complete(api(demo.chair1), open_tasks(case)[0]).status_code == 200
    with at(2026, 2, 24, 16):
        [payment] = open_tasks(case, "payment")
        paid = complete(
            api(demo.treasurer1),
            payment,
            "submit",
            data={"paid_amount": "800.00", "paid_on": "2026-02-24", "bank_reference": "ICBC-1"},
        )
        assert paid.status_code == 200, paid.json()
        [verification] = open_tasks(case, "verification")
        assert complete(api(demo.town_finance), verification).status_code == 200
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "verified")
    return case


@pytest.mark.parametrize("reader", ["treasurer1", "town_finance", "county_auditor"])
def test_remittance_fields_read_in_chinese_with_percentages_and_local_times(demo, api, reader):
    case = _verified_remittance(demo, api)
    page = page_of(demo.user(reader), case)
    expected = {
        "所属期": "2026-01",
        "工资总额": "100000.00",
        "职工人数": "120",
        "会员人数": "100",
        "经费拨缴比例": "2%",
        "上解比例": "40%",
        "应拨缴经费": "2000.00",
        "上解经费": "800.00",
        "留成经费": "1200.00",
        "缴纳期限": "2026-02-24",
        "实缴金额": "800.00",
        "缴纳日期": "2026-02-24",
        "银行流水号": "ICBC-1",
        "逾期天数": "0",
        "滞纳金": "0.00",
        "核实时间": "2026-02-24 16:00",
    }
    assert {label: field(page, label) for label in expected} == expected
    text = shown_text(page)
    for english in ("Period", "Payroll total", "Fund rate", "Upper share rate", "Verified at"):
        assert english not in text
    assert "0.020000" not in text and "0.400000" not in text and "T16:00" not in text
    # Finished: the outcome by name, not its code.
    assert "该案件已办结：缴款已核实。" in text and "(verified)" not in text


# --- the trail ---------------------------------------------------------------------------------


def test_every_trail_event_and_role_is_shown_by_its_chinese_name(demo, api):
    """Each action code the code base writes, written to a case's trail, reads on the case page
    by its Chinese name — and the event of a submission as 提交申请, not as the field 提交时间."""
    case = _verified_remittance(demo, api)
    codes, _unknown = emitted_actions()
    with transaction.atomic():
        for code in sorted(codes):
            trail.append(case, code, actor=demo.med_head, actor_role="system")
    events = {e.action: e.seq for e in case.trail.all()}
    page = page_of(demo.county_auditor, case)
    with translation.override("zh-hans"):
        expected = {code: f"{events[code]}. {ACTIONS[code]}" for code in codes}
    missing = {
        code: name for code, name in expected.items() if f"<strong>{name}</strong>" not in page
    }
    assert missing == {}
    assert "<strong>1. 提交申请</strong>" in page
    assert "提交时间" not in re.sub(r".*?审计轨迹", "", page, count=1, flags=re.S)
    text = shown_text(page)
    assert not [code for code in codes if code in text]
    assert "吴室长 (系统)" in text and "(system)" not in text
    # The trail still verifies: the page says so.
    assert "链条完整" in text


# --- hardship ------------------------------------------------------------------------------


def test_hardship_notice_end_in_local_time_approval_level_and_outcome(demo, api):
    from tests.hardship.helpers import approve, fire, investigate, pay, submit

    case = submit(api, demo.worker1, aid_type="medical", requested_amount="3000.00")
    approve(api, demo.chair1, case, "grassroots_review")
    investigate(api, demo, case)
    page = page_of(demo.worker1, case)
    ends = field(page, "公示截止时间")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} 23:59", ends), ends
    assert "开始公示" in shown_text(page)
    case.hardship.refresh_from_db()
    end = case.hardship.notice_ends_at
    with time_machine.travel(end + timedelta(minutes=1), tick=False):
        assert fire()["timers"] == 1
        approve(api, demo.town_aid1, case, "town_review")
        page = page_of(demo.worker1, case)
        # The level at which it was approved, under a label that says so.
        assert field(page, "批准层级") == "镇（街道）总工会"
        assert "批准时间" not in page
        assert pay(api, demo.town_finance, case).status_code == 200
    text = shown_text(page_of(demo.worker1, case))
    assert "该案件已办结：帮扶金已发放。" in text and "(disbursed)" not in text


def test_a_withdrawn_case_says_so_in_chinese(demo, api):
    from tests.hardship.helpers import submit

    case = submit(api, demo.worker1)
    response = post(api(demo.worker1), f"/api/v1/cases/{case.pk}/withdraw/", {"reason": "不需要了"})
    assert response.status_code == 200, response.json()
    text = shown_text(page_of(demo.worker1, case))
    assert "该案件已办结：已撤回。" in text and "(withdrawn)" not in text


# --- mediation ---------------------------------------------------------------------------------


@pytest.fixture
def agreed(demo, api):
    """A mediation case with an agreement awaiting its signatures, mediated by mediator1."""
    from tests.mediation import helpers

    case = helpers.filed(api, demo.worker1, demo)
    helpers.accept(api, demo, case)
    helpers.assign(api, demo, case)
    helpers.agreed(api, demo, case)
    return case


def test_missing_signatures_are_named_and_the_mediator_is_told_who_seals(demo, api, agreed):
    from tests.mediation.helpers import sign, task

    case = agreed
    early = complete(api(demo.mediator1), task(case, "signing"), "submit")
    assert early.status_code == 400
    assert early.json()["fields"]["signatures"] == [
        "调解协议经签名、盖章后生效；尚缺：劳动者、用人单位、调解员、调解组织印章。"
    ]
    for party in ("worker", "employer", "mediator"):
        assert sign(api, demo.mediator1, case, party).status_code == 201
    response = complete(api(demo.mediator1), task(case, "signing"), "submit")
    assert response.status_code == 400
    assert response.json()["fields"]["signatures"] == [
        "调解协议经签名、盖章后生效；尚缺：调解组织印章。"
    ]
    # The mediator's page says who applies the seal; the head has the button instead.
    hint = "由调解委员会主任最后加盖调解组织印章"
    mediator_page = page_of(demo.mediator1, case)
    assert 'data-testid="seal-hint"' in mediator_page and hint in mediator_page
    head_page = page_of(demo.med_head, case)
    assert 'data-testid="sign-seal"' in head_page and hint not in head_page
    assert sign(api, demo.med_head, case, "seal").status_code == 201
    assert 'data-testid="seal-hint"' not in page_of(demo.mediator1, case)


def test_extensions_name_who_recorded_them(demo, api):
    from tests.mediation.helpers import accept, assign, filed

    case = filed(api, demo.worker2, demo)
    accept(api, demo, case)
    assign(api, demo, case)
    response = post(
        api(demo.mediator1),
        f"/api/v1/mediation-cases/{case.pk}/extensions/",
        {"worker_consent": True, "employer_consent": True, "days": 10, "note": "双方同意"},
    )
    assert response.status_code == 201, response.json()
    page = page_of(demo.med_head, case)
    found = re.search(r'data-testid="extension-recorded-by">([^<]*)<', page)
    assert found and found.group(1) == "郑调解"
    assert "mediator1" not in shown_text(page)


# --- Django's own messages ---------------------------------------------------------------------


def test_a_decimal_message_on_a_form_ends_with_a_chinese_full_stop(demo):
    client = Client()
    client.force_login(demo.worker1)
    response = client.post(
        "/hardship/apply/",
        {
            "aid_type": "festival",
            "id_number": "110105198001010014",
            "household_size": "3",
            "annual_income": "24000.123",
            "rigid_expenses": "6000.00",
            "requested_amount": "800.00",
            "reason": "下岗，配偶患病。",
        },
    )
    assert response.status_code == 400
    found = re.search(
        r'<p class="error" id="id_annual_income-error">([^<]*)</p>', response.content.decode()
    )
    assert found and found.group(1) == "确认小数不超过 2 位。"


@pytest.mark.parametrize(
    ("form_field", "value", "message"),
    [
        (forms.DecimalField(max_digits=14, decimal_places=2), "1.234", "确认小数不超过 2 位。"),
        (forms.DecimalField(max_digits=4, decimal_places=2), "123.45", "确认总共不超过 4 位数字。"),
        (forms.DecimalField(max_digits=4, decimal_places=2), "123", "确认小数点前不超过 2 位。"),
        (forms.DecimalField(), "x", "输入一个数字。"),
        (forms.IntegerField(), "x", "输入整数。"),
        (forms.CharField(), "", "此字段为必填项。"),
        (
            forms.CharField(max_length=3),
            "abcd",
            "确保该值不超过 3 个字符（目前为 4 个）。",
        ),
        (
            forms.CharField(min_length=3),
            "ab",
            "确保该值至少有 3 个字符（目前为 2 个）。",
        ),
    ],
)
def test_django_form_messages_end_with_a_chinese_full_stop(form_field, value, message):
    with translation.override("zh-hans"):
        with pytest.raises(forms.ValidationError) as refused:
            form_field.clean(value)
        [shown] = refused.value.messages
    assert shown == message
    assert shown.endswith("。") and not re.search(r"[\u4e00-\u9fff\d] ?\.$", shown)


def test_drf_messages_our_api_shows_end_with_a_chinese_full_stop():
    from rest_framework import serializers

    class Body(serializers.Serializer):
        amount = serializers.DecimalField(max_digits=4, decimal_places=2)
        name = serializers.CharField(max_length=3)
        count = serializers.IntegerField()

    with translation.override("zh-hans"):
        for data in (
            {"amount": "1.234", "name": "abcd", "count": "x"},
            {"amount": "123.4"},
            {"amount": "x"},
        ):
            body = Body(data=data)
            assert not body.is_valid()
            for messages in body.errors.values():
                for message in messages:
                    assert str(message).endswith("。"), message
