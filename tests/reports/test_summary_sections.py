"""The summary's sections read only the rows their figures can count; these check the
corners of that: a task that was late at the end of a past period and done after it, the
success rate counted from the summary's own figures, and figures matching their lists for
periods other than the current year."""

from datetime import date

import pytest

from cases.mediation import selectors as mediation_selectors
from organizations.demo import COUNTY, DONGHU
from reports import selectors
from reports.params import Period
from tests.reports.helpers import reading

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/summary/"
CASES = "/api/v1/reports/cases/"
FEBRUARY = {"from": "2026-02-01", "to": "2026-02-28"}


def get(api, user, url=URL, **params):
    return api(user).get(url, params, HTTP_ACCEPT_LANGUAGE="en")


def listed(api, user, **params):
    response = get(api, user, CASES, page_size=100, **params)
    assert response.status_code == 200, response.json()
    return {c["number"] for c in response.json()["results"]}


def test_a_task_late_at_the_end_of_the_period_and_done_after_it_is_overdue(demo, api, known):
    """H2's county approval was due at the end of 11 March and given on 12 March: at the end
    of a period ending on 11 March it was open and late, though it is done now."""
    period = {"from": "2026-03-01", "to": "2026-03-11"}
    h2 = known["H2"].number
    with reading():
        body = get(api, demo.town_auditor, **period).json()
        steps = {(t["process"], t["step"]): t for t in body["tasks"]}
        assert steps["hardship", "county_approval"]["overdue"] == 1
        assert steps["hardship", "county_approval"]["completed"] == 0
        assert listed(
            api,
            demo.town_auditor,
            figure="tasks.overdue",
            step="hardship.county_approval",
            **period,
        ) == {h2}
        hardship = body["processes"][0]
        late = listed(api, demo.town_auditor, figure="overdue", process="hardship", **period)
        assert h2 in late
        assert hardship["overdue"] == len(late)


@pytest.mark.parametrize("name", [COUNTY, DONGHU])
@pytest.mark.parametrize(
    "period",
    [
        Period(date(2026, 1, 1), date(2026, 12, 31)),
        Period(date(2026, 3, 1), date(2026, 3, 10)),
        Period(date(2026, 3, 11), date(2026, 4, 30)),
        Period(date(2025, 1, 1), date(2025, 12, 31)),
    ],
)
def test_the_success_rate_is_the_mediation_selectors(demo, known, name, period):
    organization = demo.org(name)
    with reading():
        figures = selectors.summary(organization, period)["mediation"]
        expected = mediation_selectors.success_rate(
            organization=organization, start=period.start, end=period.end
        )
    assert figures["success_rate"] == expected


@pytest.mark.parametrize(
    "period",
    [
        FEBRUARY,
        {"from": "2026-03-01", "to": "2026-03-15"},
        {"from": "2026-03-10", "to": "2026-04-20"},
    ],
)
def test_figures_and_lists_agree_in_other_periods(demo, api, known, period):
    with reading():
        summary = get(api, demo.town_auditor, **period).json()
        for p in summary["processes"]:
            for figure in ("opened", "finished", "in_progress", "overdue"):
                count = get(
                    api, demo.town_auditor, CASES, figure=figure, process=p["process"], **period
                ).json()["count"]
                assert count == p[figure], (period, p["process"], figure)
        for t in summary["tasks"]:
            step = f"{t['process']}.{t['step']}"
            count = get(
                api, demo.town_auditor, CASES, figure="tasks.overdue", step=step, **period
            ).json()["count"]
            assert count == t["overdue"], (period, step)
        hardship = summary["hardship"]
        for figure, expected in (
            ("hardship.approved", hardship["approved"]["cases"]),
            ("hardship.disbursed", hardship["disbursed"]["cases"]),
        ):
            count = get(api, demo.town_auditor, CASES, figure=figure, **period).json()["count"]
            assert count == expected, (period, figure)
