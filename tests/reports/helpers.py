"""A known set of cases, built through the API as the people who act, at known times
(time_machine, no ticking), so that every figure of the reports can be checked exactly.

東湖 (东湖镇总工会 and its unions) — the subtree most tests report on:

Hardship (all in March 2026)
  H1 worker1 festival 800 (deep): review 2h, investigation 24h+48h, town review 4h, paid 800 on 3/5 (24h)
  H2 worker3 emergency 6000 (relative): review 4h, investigation 24h+26h, town 24h,
     county approval 192h (late: due 3/11) at 5500, paid 5500 on 3/13 (18h)
  H3 worker1 medical 3000 (deep): review 1h, investigation 2h+2h, public notice, town 3h,
     paid 3000 on 3/19 (24h)
  H4 worker2 festival 500: review 1h, withdrawn 3/12
  H5 worker2 emergency 1000: rejected by the chair after 1h
  H7 worker3 festival 700: grassroots review left open (due 3/23): overdue
Mediation (at the town; March–April 2026)
  M1 pay: accepted 1h, assigned 1h, agreement after 70h, signed 1h, performed after 408h:
     closed after 20 days 1 hour, effective within the term
  M2 dismissal: 1h, 1h, no agreement after 72h: closed after 3 days 2 hours
  M3 contract: declined after 24h
  M4 pay: 1h, 1h, expired by the beat on 4/3: closed after 16 days
  M5 pay: withdrawn before acceptance
Remittance
  R1 machinery 2026-01, 100000 → fund 2000, upper 800: approved 2h, paid on the due date
     2/24 (payment step 460h), verified 18h later
  R2 textile 2026-01, 50000 → 1000 / 400: approved 4h, paid 3/3 (7 days late, 643h),
     verified 2h later: late fee 14.00
  R3 machinery 2026-02, 100000 → 2000 / 800: approved 10h, unpaid (due 3/16): overdue
  R4 textile 2026-02: approved 1h, withdrawn (voided)

西山 (outside 东湖, inside the county): H6 worker4 festival 800 paid, M6 no agreement,
R5 food factory 2026-01 80000 paid on time.

The report is read on 20 April 2026 at noon, for the year 2026."""

from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine

from cases.mediation.tasks import enforce_statutory_terms
from cases.models import Case
from organizations.demo import XISHAN
from tests.hardship.helpers import approve, investigate, pay, submit
from tests.helpers import complete, open_tasks, post
from tests.mediation.helpers import agree, decide, filed, session, sign_all
from workflows.tasks import fire_timers

SHANGHAI = ZoneInfo("Asia/Shanghai")
REPORT_AT = datetime(2026, 4, 20, 12, 0, tzinfo=SHANGHAI)


def moment(month, day, hour, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


@contextmanager
def at(month, day, hour, minute=0):
    with time_machine.travel(moment(month, day, hour, minute), tick=False):
        yield


def reading():
    """The moment the reports are read."""
    return time_machine.travel(REPORT_AT, tick=False)


def ric(seq):
    from tests.hardship.helpers import ric_number

    return ric_number(seq)


def withdraw(api, user, case):
    response = post(api(user), f"/api/v1/cases/{case.pk}/withdraw/", {"reason": "不再需要"})
    assert response.status_code == 200, response.json()


# --- hardship -----------------------------------------------------------------------------------


def hardship(api, demo):
    cases = {}
    # H1 and H2 start on Monday 2 March.
    with at(3, 2, 9):
        cases["H1"] = submit(api, demo.worker1, id_number=ric(1), requested_amount="800.00")
    with at(3, 2, 10):
        cases["H2"] = submit(
            api,
            demo.worker3,
            aid_type="emergency",
            id_number=ric(3),
            household_size=2,
            annual_income="36000.00",
            rigid_expenses="0.00",
            requested_amount="6000.00",
        )
    h1, h2 = cases["H1"], cases["H2"]
    with at(3, 2, 11):
        approve(api, demo.chair1, h1, "grassroots_review")
    with at(3, 2, 14):
        approve(api, demo.chair2, h2, "grassroots_review")
    _investigate_one(api, demo.town_aid1, h1, moment(3, 3, 11))
    _investigate_one(api, demo.town_aid1, h2, moment(3, 3, 14))
    _investigate_one(api, demo.town_aid2, h2, moment(3, 3, 16))
    _investigate_one(api, demo.town_aid2, h1, moment(3, 4, 11))
    with at(3, 4, 15):
        approve(api, demo.town_aid1, h1, "town_review")
    with at(3, 4, 16):
        approve(api, demo.town_aid2, h2, "town_review")
    with at(3, 5, 15):
        assert pay(api, demo.town_finance, h1).status_code == 200
    with at(3, 12, 16):  # due at the end of 11 March: late
        approve(
            api,
            demo.county_aid,
            h2,
            "county_approval",
            data={"approved_amount": "5500.00"},
            comment="按救助标准核定为5500元。",
        )
    with at(3, 13, 10):
        assert pay(api, demo.county_finance, h2).status_code == 200

    # H3: medical, put on public notice.
    with at(3, 10, 9):
        cases["H3"] = submit(
            api, demo.worker1, aid_type="medical", id_number=ric(1), requested_amount="3000.00"
        )
    h3 = cases["H3"]
    with at(3, 10, 10):
        approve(api, demo.chair1, h3, "grassroots_review")
    with at(3, 10, 12):
        investigate(api, demo, h3)
    with at(3, 18, 9):
        fire_timers.run()
    with at(3, 18, 12):
        approve(api, demo.town_aid1, h3, "town_review")
    with at(3, 19, 12):
        assert pay(api, demo.town_finance, h3).status_code == 200

    # H4 withdrawn, H5 rejected, H7 left waiting.
    with at(3, 11, 9):
        cases["H4"] = submit(api, demo.worker2, id_number=ric(2), requested_amount="500.00")
    with at(3, 11, 10):
        approve(api, demo.chair1, cases["H4"], "grassroots_review")
    with at(3, 12, 9):
        withdraw(api, demo.worker2, cases["H4"])
    with at(3, 13, 9):
        cases["H5"] = submit(
            api, demo.worker2, aid_type="emergency", id_number=ric(2), requested_amount="1000.00"
        )
    with at(3, 13, 10):
        approve(api, demo.chair1, cases["H5"], "grassroots_review", "reject", comment="收入超标")
    with at(3, 16, 9):
        cases["H7"] = submit(api, demo.worker3, id_number=ric(3), requested_amount="700.00")

    # H6 in 西山: an hour a step on 2 March.
    with at(3, 2, 9):
        cases["H6"] = submit(api, demo.worker4, id_number=ric(4), requested_amount="800.00")
    h6 = cases["H6"]
    with at(3, 2, 10):
        approve(api, demo.chair3, h6, "grassroots_review")
    with at(3, 2, 11):
        investigate(api, demo, h6, officers=("xs_aid1", "xs_aid2"))
    with at(3, 2, 12):
        approve(api, demo.xs_aid1, h6, "town_review")
    with at(3, 2, 13):
        assert pay(api, demo.xs_finance, h6).status_code == 200
    return cases


def _investigate_one(api, officer, case, when):
    """One of the two investigators records the home visit."""
    with time_machine.travel(when, tick=False):
        task = next(
            t for t in open_tasks(case, "investigation") if t.owner_id in (None, officer.pk)
        )
        response = complete(
            api(officer),
            task,
            "approve",
            data={
                "visit_date": when.date().isoformat(),
                "verified_income": "24000.00",
                "findings": "入户核实。",
            },
        )
        assert response.status_code == 200, response.json()


# --- mediation ---------------------------------------------------------------------------------


def _mediating(api, demo, when, worker, **body):
    month, day, hour = when
    with at(month, day, hour):
        case = filed(api, worker, demo, **body)
    with at(month, day, hour + 1):
        decide(api, demo.med_head, case, "acceptance", "approve")
    with at(month, day, hour + 2):
        decide(api, demo.med_head, case, "assignment", data={"mediator": "mediator1"})
    return case


def mediation(api, demo):
    cases = {}
    m1 = cases["M1"] = _mediating(api, demo, (3, 2, 9), demo.worker1)
    with at(3, 3, 9):
        assert session(api, demo.mediator1, m1).status_code == 201
    with at(3, 5, 9):
        agree(api, demo.mediator1, m1)
    with at(3, 5, 10):
        sign_all(api, demo, m1)
    with at(3, 22, 10):
        decide(api, demo.mediator1, m1, "performance", data={"performance": "performed"})

    m2 = cases["M2"] = _mediating(api, demo, (3, 9, 9), demo.worker2, category="dismissal")
    with at(3, 10, 9):
        assert session(api, demo.mediator1, m2).status_code == 201
    with at(3, 12, 11):
        decide(api, demo.mediator1, m2, "mediation", data={"outcome": "no_agreement"})

    with at(3, 16, 9):
        cases["M3"] = filed(api, demo.worker3, demo, category="contract")
    with at(3, 17, 9):
        decide(
            api,
            demo.med_head,
            cases["M3"],
            "acceptance",
            "reject",
            comment="已申请仲裁",
            data={"decline_reason": "in_arbitration_or_court"},
        )

    cases["M4"] = _mediating(api, demo, (3, 18, 9), demo.worker1)
    with at(4, 3, 9):
        assert enforce_statutory_terms.run()["expired"] == 1

    with at(3, 19, 9):
        cases["M5"] = filed(api, demo.worker2, demo)
    with at(3, 20, 9):
        withdraw(api, demo.worker2, cases["M5"])

    # M6 in 西山.
    with at(3, 2, 9):
        m6 = cases["M6"] = filed(api, demo.worker4, demo, town=XISHAN)
        decide(api, demo.xs_med_head, m6, "acceptance", "approve")
        decide(api, demo.xs_med_head, m6, "assignment", data={"mediator": "xs_mediator"})
        assert session(api, demo.xs_mediator, m6).status_code == 201
        decide(api, demo.xs_mediator, m6, "mediation", data={"outcome": "no_agreement"})
    return cases


# --- remittance ------------------------------------------------------------------------------------


def declare(api, treasurer, period, payroll):
    response = post(
        api(treasurer),
        "/api/v1/fee-remittances/",
        {"period": period, "payroll_total": payroll, "headcount": 100, "member_count": 80},
    )
    assert response.status_code == 201, response.json()
    return Case.objects.get(pk=response.json()["id"])


def step(api, user, case, name, decision="approve", **body):
    [task] = open_tasks(case, name)
    response = complete(api(user), task, decision, **body)
    assert response.status_code == 200, response.json()


def paid(api, treasurer, case, amount, paid_on):
    step(
        api,
        treasurer,
        case,
        "payment",
        "submit",
        data={"paid_amount": amount, "paid_on": paid_on, "bank_reference": "ICBC-0001"},
    )


def remittance(api, demo):
    cases = {}
    with at(2, 5, 10):
        r1 = cases["R1"] = declare(api, demo.treasurer1, "2026-01", "100000.00")
    with at(2, 5, 11):
        r2 = cases["R2"] = declare(api, demo.treasurer2, "2026-01", "50000.00")
    with at(2, 5, 12):
        step(api, demo.chair1, r1, "chair_approval")
    with at(2, 5, 15):
        step(api, demo.chair2, r2, "chair_approval")
    with at(2, 24, 16):
        paid(api, demo.treasurer1, r1, "800.00", "2026-02-24")
    with at(2, 25, 10):
        step(api, demo.town_finance, r1, "verification")
    with at(3, 4, 10):
        paid(api, demo.treasurer2, r2, "400.00", "2026-03-03")
    with at(3, 4, 12):
        step(api, demo.town_finance, r2, "verification")

    with at(3, 2, 10):
        r3 = cases["R3"] = declare(api, demo.treasurer1, "2026-02", "100000.00")
        r4 = cases["R4"] = declare(api, demo.treasurer2, "2026-02", "50000.00")
    with at(3, 2, 11):
        step(api, demo.chair2, r4, "chair_approval")
    with at(3, 2, 20):
        step(api, demo.chair1, r3, "chair_approval")
    with at(3, 3, 9):
        withdraw(api, demo.treasurer2, r4)

    # R5 in 西山.
    with at(2, 5, 10):
        r5 = cases["R5"] = declare(api, demo.treasurer3, "2026-01", "80000.00")
    with at(2, 5, 11):
        step(api, demo.chair3, r5, "chair_approval")
    with at(2, 6, 10):
        paid(api, demo.treasurer3, r5, "640.00", "2026-02-06")
    with at(2, 6, 11):
        step(api, demo.xs_finance, r5, "verification")
    return cases


def build(api, demo):
    """Every case of the module docstring; returns them by name."""
    return {**remittance(api, demo), **hardship(api, demo), **mediation(api, demo)}
