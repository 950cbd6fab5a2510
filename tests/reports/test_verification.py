"""`manage.py verify_trail --all` (progress bar and summary), the nightly task that keeps the
result, and the result shown to auditors."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.management.commands.verify_trail import ProgressBar
from cases.models import Case, TrailEvent
from reports.models import TrailVerification
from reports.tasks import verify_all_trails
from tests.hardship.helpers import approve, submit
from tests.reports.helpers import ric

pytestmark = pytest.mark.django_db


def some_cases(api, demo, count=3, aid_type="festival"):
    cases = []
    for seq, worker in enumerate((demo.worker1, demo.worker2, demo.worker3)[:count], start=1):
        case = submit(api, worker, id_number=ric(seq), aid_type=aid_type)
        cases.append(case)
    approve(api, demo.chair1, cases[0], "grassroots_review")
    return cases


def tamper(case, seq):
    """Change one stored event the way only someone with DDL rights could: drop the guard,
    change the row, put the guard back (inside the test's transaction)."""
    sql = "UPDATE cases_trailevent SET comment = 'forged' WHERE case_id = %s AND seq = %s"
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE needs no pending checks
            cur.execute("ALTER TABLE cases_trailevent DISABLE TRIGGER cases_trailevent_append_only")
            cur.execute(sql, [case.pk, seq])
            cur.execute("ALTER TABLE cases_trailevent ENABLE TRIGGER cases_trailevent_append_only")
        else:
            cur.execute("DROP TRIGGER cases_trailevent_no_update")
            cur.execute(sql, [case.pk, seq])
            cur.execute(
                "CREATE TRIGGER cases_trailevent_no_update BEFORE UPDATE ON cases_trailevent "
                "BEGIN SELECT RAISE(ABORT, 'append-only'); END"
            )


def test_all_with_a_progress_bar_and_a_summary(demo, api):
    some_cases(api, demo)
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_trail", "--all", stdout=out, stderr=err)
    events = TrailEvent.objects.count()
    assert f"3 case(s), {events} event(s) checked, 0 broken." in out.getvalue()
    assert "result recorded" in out.getvalue()
    # Not a terminal: one line per tenth, ending with the whole.
    lines = err.getvalue().splitlines()
    assert lines[-1] == "100% (3/3 cases)"
    assert "\r" not in err.getvalue()
    result = TrailVerification.objects.get()
    assert (result.cases, result.events, result.broken, result.source) == (3, events, [], "command")
    assert result.valid


def test_a_terminal_gets_a_bar_redrawn_in_place():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    from django.core.management.base import OutputWrapper

    stream = Terminal()
    bar = ProgressBar(OutputWrapper(stream))
    for done in range(5):
        bar(done, 4)
    bar.close()
    text = stream.getvalue()
    assert text.count("\r") == 5
    assert "\r[" + "#" * 30 + "] 100% 4/4 cases" in text
    assert text.endswith("\n")


@pytest.mark.tampers_trail
def test_broken_trails_are_named_and_recorded(demo, api):
    good, bad, _other = some_cases(api, demo)
    tamper(bad, 2)
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 broken trail"):
        call_command("verify_trail", "--all", "--no-progress", stdout=out, stderr=io.StringIO())
    assert f"BROKEN {bad.number}: chain breaks at event 2" in out.getvalue()
    assert "1 broken." in out.getvalue()
    result = TrailVerification.objects.get()
    assert result.broken == [{"case": bad.pk, "number": bad.number, "broken_at": 2}]
    # One case is still checked the old way, and unrecorded.
    call_command("verify_trail", "--case", good.number, stdout=io.StringIO())
    assert TrailVerification.objects.count() == 1


def test_the_nightly_task_keeps_the_result(demo, api):
    some_cases(api, demo)
    summary = verify_all_trails.run()
    assert summary == {"cases": 3, "events": TrailEvent.objects.count(), "broken": 0, "missing": {}}
    result = TrailVerification.objects.get()
    assert result.source == "beat"
    assert result.finished_at >= result.started_at


def test_the_walk_costs_the_same_queries_for_few_or_many_cases(demo, api):
    from reports.services import verify_all_trails as walk

    some_cases(api, demo, count=1)
    with CaptureQueriesContext(connection) as few:
        walk(record=False)
    some_cases(api, demo, count=3, aid_type="emergency")
    assert Case.objects.count() == 4
    with CaptureQueriesContext(connection) as many:
        walk(record=False)
    assert len(few.captured_queries) == len(many.captured_queries)


def test_auditors_see_the_last_verification(demo, api, client):
    some_cases(api, demo)
    client.force_login(demo.county_auditor)
    page = client.get("/reports/")
    assert 'data-testid="trail-verification"' in page.content.decode()
    assert api(demo.county_auditor).get("/api/v1/reports/trail-verification/").status_code == 404

    verify_all_trails.run()
    page = client.get("/reports/").content.decode()
    assert 'class="verify valid"' in page
    body = api(demo.county_auditor).get("/api/v1/reports/trail-verification/").json()
    assert (body["cases"], body["valid"], body["broken"], body["source"]) == (3, True, [], "beat")
    # Other officers do not see it.
    client.force_login(demo.town_aid1)
    assert 'data-testid="trail-verification"' not in client.get("/reports/").content.decode()
    assert api(demo.town_aid1).get("/api/v1/reports/trail-verification/").status_code == 403


@pytest.mark.tampers_trail
def test_auditors_see_broken_trails_named(demo, api, client):
    _good, bad, _other = some_cases(api, demo)
    tamper(bad, 1)
    verify_all_trails.run()
    client.force_login(demo.town_auditor)
    page = client.get("/reports/").content.decode()
    assert 'class="verify broken"' in page
    assert bad.number in page
