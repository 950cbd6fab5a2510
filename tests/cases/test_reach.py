"""Case reach is written twice in SQL — a form read row by row (pages, one case) and, for the
count of a list on PostgreSQL, a form of index conditions — and both must say what the rules
say: officers see their subtree, applicants (and whoever submitted for them) their cases, and
anyone a case on which they hold or held a task, decided one, or were copied. Checked here
against the rules written out plainly, for every demo user, with and without list filters."""

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.test.utils import CaptureQueriesContext

from approvals import services
from approvals.models import CaseTask
from bench.engine import Driver, hardship_case, mediation_case, remittance_case
from cases.api import CaseFilter
from cases.models import Case, CaseCC
from cases.selectors import case_in_reach, cases_in_reach, in_reach
from organizations.models import User
from organizations.selectors import officer_paths
from tests.helpers import open_task, submit_sample


def reference(user):
    """The reach as the rules state it, in the plainest query."""
    if user.is_superuser:
        return set(Case.objects.values_list("pk", flat=True))
    q = Q(applicant=user) | Q(submitted_by=user)
    for path in officer_paths(user):
        q |= Q(organization__path__startswith=path)
    q |= Q(Exists(CaseTask.objects.filter(case=OuterRef("pk"), owner=user)))
    q |= Q(Exists(CaseTask.objects.filter(case=OuterRef("pk"), completed_by=user)))
    q |= Q(Exists(CaseCC.objects.filter(case=OuterRef("pk"), user=user)))
    return set(Case.objects.filter(q).values_list("pk", flat=True))


@pytest.fixture
def world(demo):
    driver = Driver()
    for i in range(2):
        hardship_case(driver, i)
        mediation_case(driver, i)
        remittance_case(driver, i)
    # A case of 东湖 copied to a 西山 officer and a member of another union — as a copy made
    # before CC was limited to officers over the case left them: outside their subtree, in
    # reach by the copy alone.
    case = submit_sample(demo.worker1, title="Copied")
    task = open_task(case)
    services.claim(task_id=task.pk, user=demo.chair1)
    for user in (demo.xs_aid1, demo.worker3):
        CaseCC.objects.create(case=case, user=user, added_by=demo.chair1)
    # Tasks held and decided by people outside the case's subtree (as a transfer or a
    # delegation can leave them): in reach by that alone.
    other = submit_sample(demo.worker2, title="Held elsewhere")
    held = open_task(other)
    held.owner = demo.xs_aid2
    held.save()
    decided = submit_sample(demo.worker2, title="Decided elsewhere")
    done = open_task(decided)
    done.completed_by = demo.chair3
    done.save()
    return {"copied": case, "held": other, "decided": decided}


def test_the_list_and_its_count_match_the_rules_for_every_user(world):
    for user in User.objects.all():
        expected = reference(user)
        qs = cases_in_reach(user)
        assert set(qs.values_list("pk", flat=True)) == expected, user.username
        assert qs.count() == len(expected), user.username


def test_one_case_read_is_in_reach_exactly_when_the_rules_say(world):
    """`in_reach` decides on the row where it can (own cases, an officer's subtree) and asks the
    query otherwise; for every user and case it answers as the rules do."""
    cases = list(Case.objects.select_related("organization"))
    for user in User.objects.all():
        expected = reference(user)
        for case in cases:
            assert in_reach(user, case) == (case.pk in expected), (user.username, case.number)


def test_copies_held_and_decided_tasks_bring_a_case_into_reach(world, demo):
    assert world["copied"].pk in reference(demo.xs_aid1)
    for username, key in (
        ("xs_aid1", "copied"),
        ("worker3", "copied"),
        ("xs_aid2", "held"),
        ("chair3", "decided"),
    ):
        user = demo.user(username)
        assert case_in_reach(user, world[key].pk) is not None, username
        assert world[key].pk in set(cases_in_reach(user).values_list("pk", flat=True))
    assert case_in_reach(demo.xs_aid2, world["copied"].pk) is None
    assert case_in_reach(demo.worker4, world["held"].pk) is None


@pytest.mark.parametrize(
    "params",
    [
        {"process": "hardship"},
        {"status": "in_progress"},
        {"process": "mediation", "status": "in_progress"},
        {"q": "KN-"},
        {"q": "杨"},
        {"overdue": "false"},
    ],
)
def test_filtered_counts_match_the_filtered_lists(world, params):
    for username in ("town_aid1", "county_aid", "xs_aid1", "worker1", "chair1", "admin"):
        user = User.objects.get(username=username)
        qs = CaseFilter(params, queryset=cases_in_reach(user)).qs
        rows = list(qs.values_list("pk", flat=True))
        assert qs.count() == len(rows), (username, params)
        assert set(rows) <= reference(user)


def test_counting_is_one_query(world, demo):
    qs = cases_in_reach(demo.town_aid1)
    demo_user = qs.count()  # memberships are read (and cached) on the first use
    with CaptureQueriesContext(connection) as ctx:
        assert qs.count() == demo_user
    assert len(ctx.captured_queries) == 1
