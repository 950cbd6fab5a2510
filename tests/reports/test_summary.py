"""The summary of figures: every figure of a known set of cases, exactly; the cases behind each
figure; scoping and periods; a query count that does not grow with the number of cases."""

import pytest

from organizations.demo import COUNTY, DONGHU, XISHAN
from tests.reports.helpers import at, reading

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/summary/"


def get(api, user, url=URL, **params):
    return api(user).get(url, params, HTTP_ACCEPT_LANGUAGE="en")


def zero_aid(aid_type):
    return {
        "aid_type": aid_type,
        "households": 0,
        "approved_cases": 0,
        "approved_amount": "0.00",
        "disbursed_cases": 0,
        "disbursed_amount": "0.00",
    }


def aid(aid_type, amount):
    return {
        "aid_type": aid_type,
        "households": 1,
        "approved_cases": 1,
        "approved_amount": amount,
        "disbursed_cases": 1,
        "disbursed_amount": amount,
    }


def step(process, name, title, completed, median, p90, late=0, overdue=0):
    return {
        "process": process,
        "step": name,
        "title": title,
        "completed": completed,
        "median_hours": median,
        "p90_hours": p90,
        "late": late,
        "overdue": overdue,
    }


EXPECTED_DONGHU = {
    "processes": [
        {
            "process": "hardship",
            "opened": 6,  # H1–H5, H7
            "finished": 5,
            "in_progress": 1,  # H7
            "overdue": 1,  # H7: grassroots review due 23 March
            "finished_by_status": {"approved": 3, "closed": 0, "rejected": 1, "withdrawn": 1},
        },
        {
            "process": "mediation",
            "opened": 5,
            "finished": 5,
            "in_progress": 0,
            "overdue": 0,
            "finished_by_status": {"approved": 0, "closed": 3, "rejected": 1, "withdrawn": 1},
        },
        {
            "process": "remittance",
            "opened": 4,
            "finished": 3,
            "in_progress": 1,  # R3
            "overdue": 1,  # R3: unpaid, due 16 March
            "finished_by_status": {"approved": 0, "closed": 2, "rejected": 0, "withdrawn": 1},
        },
    ],
    "hardship": {
        "households_helped": 2,  # worker1 (twice) and worker3
        "approved": {"cases": 3, "amount": "9300.00"},
        "disbursed": {"cases": 3, "amount": "9300.00"},
        "by_aid_type": [
            zero_aid("file"),
            zero_aid("education"),
            aid("medical", "3000.00"),
            aid("festival", "800.00"),
            aid("emergency", "5500.00"),  # approved at the county below the 6000 asked
        ],
        "by_category": [
            {
                "category": "deep",
                "households": 1,
                "disbursed_cases": 2,
                "disbursed_amount": "3800.00",
            },
            {
                "category": "relative",
                "households": 1,
                "disbursed_cases": 1,
                "disbursed_amount": "5500.00",
            },
            {
                "category": "sudden",
                "households": 0,
                "disbursed_cases": 0,
                "disbursed_amount": "0.00",
            },
        ],
    },
    "mediation": {
        "by_category": [
            {"category": "labor_relationship", "opened": 0},
            {"category": "contract", "opened": 1},
            {"category": "dismissal", "opened": 1},
            {"category": "hours_leave", "opened": 0},
            {"category": "social_insurance", "opened": 0},
            {"category": "pay", "opened": 3},
            {"category": "injury_medical", "opened": 0},
            {"category": "compensation", "opened": 0},
        ],
        "outcomes": {
            "agreement": 1,
            "no_agreement": 1,
            "expired": 1,
            "declined": 1,
            "withdrawn": 1,
        },
        "closed": 3,  # M1, M2, M4
        "agreements": 1,
        "success_rate": "0.3333",
        "median_days_to_close": "16.0",  # 3.1, 16.0, 20.0
        "closed_within_term": 2,  # M1 (effective 5 March), M2
        "within_term_rate": "0.6667",
    },
    "remittance": {
        "declarations": 3,  # R4 was withdrawn
        "fund_due": "5000.00",
        "upper_share": "2000.00",
        "paid": {"count": 2, "amount": "1200.00"},
        "verified": {"count": 2, "amount": "1200.00"},
        "paid_on_time": 1,
        "paid_late": 1,
        "on_time_rate": "0.5000",
        "late_fees": "14.00",  # 400 × 0.5 % × 7 days
        "unpaid_overdue": {"count": 1, "upper_share": "800.00"},
    },
    "tasks": [
        step("hardship", "grassroots_review", "Grassroots review", 5, "1.0", "3.2", overdue=1),
        step("hardship", "investigation", "Home investigation", 6, "24.0", "37.0"),
        step("hardship", "town_review", "Town review", 3, "4.0", "20.0"),
        step("hardship", "county_approval", "County approval", 1, "192.0", "192.0", late=1),
        step("hardship", "disbursement", "Disbursement", 3, "24.0", "24.0"),
        step("mediation", "acceptance", "Accept or decline the application", 4, "1.0", "17.1"),
        step("mediation", "assignment", "Assign a mediator", 3, "1.0", "1.0"),
        step("mediation", "mediation", "Mediate and record the outcome", 2, "71.0", "71.8"),
        step("mediation", "signing", "Signatures and seal of the agreement", 1, "1.0", "1.0"),
        step(
            "mediation",
            "performance",
            "Follow up the performance of the agreement",
            1,
            "408.0",
            "408.0",
        ),
        step("remittance", "chair_approval", "Approve the declaration", 4, "3.0", "8.2"),
        step("remittance", "payment", "Record the payment", 2, "551.5", "624.7"),
        step("remittance", "verification", "Verify the receipt", 2, "10.0", "16.4"),
    ],
}


def test_every_figure_of_the_known_cases(demo, api, known):
    with reading():
        response = get(api, demo.town_auditor)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["organization"] == {"id": demo.org(DONGHU).pk, "name": DONGHU}
    assert body["period"] == {
        "from": "2026-01-01",
        "to": "2026-12-31",
        "as_of": "2026-04-20T12:00:00+08:00",
    }
    for section, expected in EXPECTED_DONGHU.items():
        assert body[section] == expected, section
    months = {m["month"]: m for m in body["monthly"]}
    assert len(months) == 12
    assert months["2026-02"] == {"month": "2026-02", "hardship": 0, "mediation": 0, "remittance": 2}
    assert months["2026-03"] == {"month": "2026-03", "hardship": 6, "mediation": 5, "remittance": 2}
    assert sum(m["hardship"] + m["mediation"] + m["remittance"] for m in months.values()) == 15


def test_the_county_sees_its_whole_tree(demo, api, known):
    with reading():
        body = get(api, demo.county_auditor).json()
    assert body["organization"]["name"] == COUNTY
    hardship = body["hardship"]
    assert hardship["households_helped"] == 3  # and worker4 in 西山
    assert hardship["disbursed"] == {"cases": 4, "amount": "10100.00"}
    assert body["mediation"]["closed"] == 4
    assert body["mediation"]["success_rate"] == "0.2500"
    assert body["remittance"]["paid_on_time"] == 2
    assert body["remittance"]["on_time_rate"] == "0.6667"
    # One organization of the tree, chosen by the county.
    with reading():
        xishan = get(api, demo.county_auditor, organization=demo.org(XISHAN).pk).json()
    assert xishan["organization"]["name"] == XISHAN
    assert xishan["hardship"]["households_helped"] == 1
    assert xishan["remittance"]["declarations"] == 1


def test_a_shorter_period_counts_its_own_cases_and_state(demo, api, known):
    with reading():
        early = get(api, demo.town_aid1, **{"from": "2026-03-01", "to": "2026-03-10"}).json()
        later = get(api, demo.town_aid1, **{"from": "2026-03-01", "to": "2026-03-20"}).json()
    hardship, _mediation, remittance_ = early["processes"]
    # Opened H1, H2, H3; H1 paid on 5 March; H2 and H3 still open at the end of 10 March.
    assert (hardship["opened"], hardship["finished"], hardship["in_progress"]) == (3, 1, 2)
    assert hardship["overdue"] == 0
    assert early["hardship"]["disbursed"] == {"cases": 1, "amount": "800.00"}
    assert early["hardship"]["approved"] == {
        "cases": 1,
        "amount": "800.00",
    }  # H2 reached payment on 12 March
    # R2 was verified on 4 March, R4 withdrawn on 3 March; R3 is open but not yet due.
    assert (remittance_["opened"], remittance_["finished"]) == (2, 2)
    assert (remittance_["in_progress"], remittance_["overdue"]) == (1, 0)
    assert early["period"]["as_of"] == "2026-03-10T23:59:59.999999+08:00"
    # By the end of 20 March R3 is past its due date (16 March); H7 is not yet (23 March).
    hardship, _mediation, remittance_ = later["processes"]
    assert (hardship["in_progress"], hardship["overdue"]) == (1, 0)
    assert (remittance_["in_progress"], remittance_["overdue"]) == (1, 1)
    # Declarations are those of the months starting in the period: none in March.
    assert later["remittance"]["declarations"] == 0


FIGURES = [
    # (query, case names the figure counts)
    ({"figure": "opened", "process": "hardship"}, {"H1", "H2", "H3", "H4", "H5", "H7"}),
    ({"figure": "finished", "process": "hardship", "status": "approved"}, {"H1", "H2", "H3"}),
    ({"figure": "in_progress", "process": "hardship"}, {"H7"}),
    ({"figure": "overdue"}, {"H7", "R3"}),
    ({"figure": "hardship.approved"}, {"H1", "H2", "H3"}),
    ({"figure": "hardship.disbursed", "aid_type": "festival"}, {"H1"}),
    ({"figure": "hardship.disbursed", "category": "deep"}, {"H1", "H3"}),
    ({"figure": "opened", "process": "mediation", "mediation_category": "pay"}, {"M1", "M4", "M5"}),
    ({"figure": "finished", "process": "mediation", "outcome": "expired"}, {"M4"}),
    ({"figure": "mediation.closed"}, {"M1", "M2", "M4"}),
    ({"figure": "mediation.agreements"}, {"M1"}),
    ({"figure": "mediation.within_term"}, {"M1", "M2"}),
    ({"figure": "remittance.declared"}, {"R1", "R2", "R3"}),
    ({"figure": "remittance.on_time"}, {"R1"}),
    ({"figure": "remittance.late"}, {"R2"}),
    ({"figure": "remittance.late_fee"}, {"R2"}),
    ({"figure": "remittance.unpaid_overdue"}, {"R3"}),
    ({"figure": "tasks.late", "step": "hardship.county_approval"}, {"H2"}),
    ({"figure": "tasks.overdue", "step": "hardship.grassroots_review"}, {"H7"}),
    ({"figure": "tasks.completed", "step": "mediation.signing"}, {"M1"}),
]


def test_each_figure_lists_the_cases_behind_it(demo, api, known):
    numbers = {name: case.number for name, case in known.items()}
    with reading():
        for query, names in FIGURES:
            response = get(api, demo.town_auditor, "/api/v1/reports/cases/", page_size=100, **query)
            assert response.status_code == 200, (query, response.json())
            listed = {c["number"] for c in response.json()["results"]}
            assert listed == {numbers[n] for n in names}, query


def test_the_summary_and_its_lists_agree(demo, api, known):
    """Every count of the summary is the length of the list it links to."""
    with reading():
        summary = get(api, demo.town_auditor).json()
        for p in summary["processes"]:
            for figure in ("opened", "finished", "in_progress", "overdue"):
                listed = get(
                    api,
                    demo.town_auditor,
                    "/api/v1/reports/cases/",
                    figure=figure,
                    process=p["process"],
                ).json()["count"]
                assert listed == p[figure], (p["process"], figure)
        for t in summary["tasks"]:
            key = f"{t['process']}.{t['step']}"
            listed = get(
                api, demo.town_auditor, "/api/v1/reports/cases/", figure="tasks.overdue", step=key
            ).json()["count"]
            assert listed == t["overdue"], key


def test_who_may_read_reports(demo, api, known):
    with reading():
        assert get(api, demo.worker1).status_code == 403  # members (applicants)
        assert get(api, demo.worker1, "/api/v1/reports/cases/", figure="opened").status_code == 403
        assert api().get(URL).status_code == 401
        # An organization outside the caller's reach is not found.
        response = get(api, demo.town_auditor, organization=demo.org(XISHAN).pk)
        assert response.status_code == 404
        assert get(api, demo.town_auditor, organization=99999).status_code == 404
        # Officers of any kind read the figures of their reach.
        body = get(api, demo.chair1).json()
        assert body["organization"]["name"] == "东湖机械厂工会"
        assert body["remittance"]["declarations"] == 2  # R1, R3 of the machinery union


@pytest.mark.parametrize(
    "params, field",
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-05-01", "to": "2026-04-01"}, "to"),
        ({"from": "2000-01-01", "to": "2026-01-01"}, "to"),
        ({"organization": "east"}, "organization"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(demo, api, params, field):
    response = get(api, demo.town_auditor, **params)
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_bad_figure_options_are_400(demo, api):
    for params, field in (
        ({"figure": "nonsense"}, "figure"),
        ({"figure": "opened", "process": "payroll"}, "process"),
        ({"figure": "tasks.completed", "step": "hardship.nope"}, "step"),
        ({"figure": "opened", "aid_type": "car"}, "aid_type"),
    ):
        response = get(api, demo.town_auditor, "/api/v1/reports/cases/", **params)
        assert response.status_code == 400, params
        assert field in response.json()["fields"], params


def test_the_default_period_is_this_calendar_year(demo, api):
    with at(7, 1, 9):
        body = get(api, demo.county_auditor).json()
    assert (body["period"]["from"], body["period"]["to"]) == ("2026-01-01", "2026-12-31")
