"""Task reads, scoped to the user and free of N+1. Who may take a task is decided here, in
one query (`eligible_q`), so the queue a person sees and the check when they act agree."""

import functools

from django.db.models import Count, Exists, OuterRef, Q, Window
from django.utils import timezone
from viewflow.workflow.status import STATUS

from cases.selectors import cases_in_reach_q
from core import memo, statements
from organizations.models import Membership
from organizations.selectors import memberships_of

from .models import OPEN_STATUSES, CaseTask, Delegation, TaskKind
from .spec import APPROVE, REJECT

HUMAN = "HUMAN"
DECIDING = (APPROVE, REJECT)


_PERSON = ("id", "username", "full_name")
# What a row of the task list shows (api.TaskSerializer), and no more: the people's and the
# case's other columns (password hashes, dates) cost a page more to read and convert than it
# shows.
LIST_COLUMNS = (
    *("flow_task", "flow_task_type", "status", "created", "finished", "data", "owner"),
    *("case", "candidate_organization", "candidate_role", "due_at", "decision", "comment"),
    *("completed_by", "on_behalf_of", "kind", "on_hold"),
    *("case__id", "case__number", "case__process"),
    *("candidate_organization__id", "candidate_organization__name"),
    "candidate_organization__kind",
    *(
        f"{person}__{column}"
        for person in ("owner", "completed_by", "on_behalf_of")
        for column in _PERSON
    ),
)


def _base():
    return CaseTask.objects.filter(flow_task_type=HUMAN).select_related(
        "case", "owner", "candidate_organization", "completed_by", "on_behalf_of"
    )


def active_delegations(*, delegate=None, delegator=None, at=None):
    at = at or timezone.now()
    # An inactive delegate stands in for nobody: the tasks wait for the colleague.
    qs = Delegation.objects.filter(
        starts_at__lte=at, ends_at__gt=at, revoked_at__isnull=True, delegate__is_active=True
    )
    if delegate is not None:
        qs = qs.filter(delegate=delegate)
    if delegator is not None:
        qs = qs.filter(delegator=delegator)
    return qs


def acting_for(user):
    """The user themself and everyone whose tasks they currently cover as a delegate (read
    once per operation: a claim asks it to find the task and again to check the claim)."""
    return memo.remembered(
        ("acting_for", user.pk),
        lambda: [
            user.pk,
            *statements.rows("covered_by", _covered_by, user.pk, timezone.now()),
        ],
    )


def _covered_by(delegate_id, at):
    return (
        active_delegations(at=at)
        .filter(delegate_id=delegate_id)
        .values_list("delegator_id", flat=True)
    )


def decided_other_step(user_ids):
    """Subquery: a decision by one of `user_ids` (in person or as delegate) on a step of
    another approval level of the same case — what separation of duties forbids."""
    return (
        CaseTask.objects.filter(
            case=OuterRef("case"),
            status=STATUS.DONE,
            decision__in=DECIDING,
            kind__in=(TaskKind.APPROVAL, TaskKind.ADDED),
        )
        .filter(Q(completed_by__in=user_ids) | Q(on_behalf_of__in=user_ids))
        .exclude(duty_level=OuterRef("duty_level"))
    )


def _roles(user, principals):
    """(organization, role) pairs the user may take tasks for: their own, with their
    memberships (read once per request), and those of the colleagues they cover, read only
    when they cover someone."""
    pairs = [(m.organization_id, m.role) for m in memberships_of(user)]
    if principals:
        pairs += memo.remembered(
            ("roles_held", tuple(principals)),
            lambda: list(
                Membership.objects.filter(user_id__in=principals).values_list(
                    "organization_id", "role"
                )
            ),
        )
    return pairs


def eligible_q(user):
    """Tasks the user may take by role (in person or for someone they cover): they hold the
    role at the organization, it is not their (or their principal's) own case, separation of
    duties allows it, and they hold no other task of the same round (countersign needs
    distinct people). `may_take` decides the same for one task already read."""
    from cases.models import Case

    ids = acting_for(user)
    q = Q(pk__in=[])
    for org_id, role in _roles(user, ids[1:]):
        q |= Q(candidate_organization_id=org_id, candidate_role=role)
    same_round = (
        CaseTask.objects.filter(batch=OuterRef("batch"))
        .exclude(pk=OuterRef("pk"))
        .exclude(status=STATUS.CANCELED)
        .filter(Q(owner__in=ids) | Q(completed_by__in=ids))
    )
    # Their own cases, a set read once per query: the rule needs no case row per task.
    own_cases = Case.objects.filter(applicant_id__in=ids).values("pk")
    return (
        q
        & ~(Q(applicant_may_act=False) & Q(case_id__in=own_cases))
        & ~(Q(separation_of_duties=True) & Q(Exists(decided_other_step(ids))))
        & ~Q(Exists(same_round))
    )


def step_ref(node):
    """The step as stored in `flow_task` (what the queue's SQL compares)."""
    return CaseTask._meta.get_field("flow_task").get_prep_value(node)


def duty_level(node):
    """The approval level `node` decides at, as stored in `CaseTask.duty_level`: the level the
    step declares, else the step itself."""
    return f"level:{node.level}" if getattr(node, "level", None) else step_ref(node)


def step_refusal(task, user):
    """The step's own eligibility check (Step.eligibility) for `user` on `task`: why they may
    not act, or None."""
    check = getattr(task.flow_task, "eligibility", None)
    if check is None or task.case_id is None:
        return None
    problem = check(task.case, user)
    return str(problem) if problem else None


def queue_checks_step(node):
    """Whether the queue asks the step's eligibility check (it declares `eligible_q`)."""
    return getattr(node, "eligible_q", None) is not None


def may_take(user, task):
    """Whether `task` (read with its case) is in `queue(user)`: the rules of `eligible_q`
    decided on the row, plus one read of the other tasks of its round and, with separation of
    duties, of its case, and the step's eligibility check when the queue asks it. A claim or a
    decision asks this under the process lock; the queue's query to ask it cost a fifth of a
    decision, most of it in building the SQL.
    tests/conftest.py checks every answer the test suite gets against the queue."""
    if not _may_take_by_role(user, task):
        return False
    return not queue_checks_step(task.flow_task) or step_refusal(task, user) is None


def _may_take_by_role(user, task):
    if (
        task.flow_task_type != HUMAN
        or task.flow_status != STATUS.NEW
        or task.decision != ""
        or task.candidate_organization_id is None
    ):
        return False
    ids = acting_for(user)
    if (task.candidate_organization_id, task.candidate_role) not in _roles(user, ids[1:]):
        return False
    if not task.applicant_may_act and task.case_id is not None and task.case.applicant_id in ids:
        return False
    separation = task.separation_of_duties and task.case_id is not None
    if task.batch is None and not separation:
        return True
    if task.batch is None:
        others = statements.rows("case_others", _case_others, task.case_id, task.pk)
    elif separation:
        others = statements.rows(
            "round_and_case_others", _round_and_case_others, task.batch, task.case_id, task.pk
        )
    else:
        others = statements.rows("round_others", _round_others, task.batch, task.pk)
    level = task.duty_level or step_ref(task.flow_task)
    for row in others:
        if (
            task.batch is not None
            and row["batch"] == task.batch
            and row["status"] != STATUS.CANCELED
            and (row["owner_id"] in ids or row["completed_by_id"] in ids)
        ):
            return False  # already holds or decided a task of this round
        if (
            separation
            and row["case_id"] == task.case_id
            and row["status"] == STATUS.DONE
            and row["decision"] in DECIDING
            and row["kind"] in (TaskKind.APPROVAL, TaskKind.ADDED)
            and (row["completed_by_id"] in ids or row["on_behalf_of_id"] in ids)
            and row["duty_level"] != level
        ):
            return False  # decided a step of another level of this case
    return True


_OTHERS_COLUMNS = (
    *("batch", "status", "owner_id", "completed_by_id", "on_behalf_of_id", "decision"),
    *("kind", "flow_task", "case_id", "duty_level"),
)


def _round_others(batch, pk):
    """What `may_take` reads of the other tasks of a round…"""
    return CaseTask.objects.filter(batch=batch).exclude(pk=pk).values(*_OTHERS_COLUMNS)


def _case_others(case_id, pk):
    """…of a case (separation of duties)…"""
    return CaseTask.objects.filter(case_id=case_id).exclude(pk=pk).values(*_OTHERS_COLUMNS)


def _round_and_case_others(batch, case_id, pk):
    """…or of both."""
    return (
        CaseTask.objects.filter(Q(batch=batch) | Q(case_id=case_id))
        .exclude(pk=pk)
        .values(*_OTHERS_COLUMNS)
    )


def inbox(user):
    return _inbox(user.pk)


def _inbox(owner_id):
    return _base().filter(owner_id=owner_id, status__in=(STATUS.ASSIGNED, STATUS.STARTED))


class InboxPages:
    """A person's inbox as the task list pages it (core.rest.OneReadPaginator): a page and the
    total in one statement, whose SQL each process builds once (core.statements)."""

    def __init__(self, user):
        self.user = user

    def count(self):
        return inbox(self.user).count()

    def page_and_total(self, offset, limit):
        tasks = statements.rows(
            ("inbox_page", offset, limit),
            lambda owner_id: inbox_page(owner_id, offset, limit),
            self.user.pk,
        )
        return tasks, (tasks[0].total_in_list if tasks else 0)


def inbox_page(owner_id, offset, limit):
    """One page of the inbox, oldest first, each row with the inbox's size."""
    return (
        _inbox(owner_id)
        .order_by("created", "pk")
        .only(*LIST_COLUMNS)
        .annotate(total_in_list=Window(Count("pk")))[offset : offset + limit]
    )


def queue(user):
    # `flow_status` is viewflow's status copied onto our row (see CaseTask): the role's
    # unclaimed tasks come from one partial index of ours (casetask_unclaimed). Asking
    # viewflow's `status` as well would tempt PostgreSQL into reading every unclaimed task of
    # every role from viewflow's table and joining them.
    return _base().filter(
        eligible_q(user), steps_eligible_q(user), flow_status=STATUS.NEW, decision=""
    )


def steps_eligible_q(user):
    """The steps' own eligibility checks that have a filter form (Step.eligible_q): a task of
    such a step only on a case where the check lets `user` act. A subquery per check, built
    without reading anything: the queue still costs one statement."""
    from cases.models import Case

    q = Q()
    for check, refs in _checked_steps():
        passes = Case.objects.filter(check(user), pk=OuterRef("case_id"))
        q &= ~Q(flow_task__in=refs) | Q(Exists(passes))
    return q


@functools.cache
def _checked_steps():
    """(eligible_q, the stored references of the steps declaring it) of every registered flow:
    steps sharing a check share its subquery. The flows are fixed once the apps are loaded."""
    from workflows.base import registered

    steps = {}
    for flow_class in registered().values():
        for node in flow_class.instance.nodes():
            if queue_checks_step(node):
                steps.setdefault(node.eligible_q, []).append(step_ref(node))
    return tuple((check, tuple(sorted(refs))) for check, refs in steps.items())


def archive(user):
    return _base().filter(completed_by=user, status=STATUS.DONE)


def tasks_in_reach(user):
    """Every human task the user may look at: on a case in reach, or offered or assigned to them."""
    from cases.models import Case

    # Correlated on the task's case: a lookup of one task checks one case. (`case__in` of all
    # the cases in reach made PostgreSQL compute that whole set — every case and task of the
    # user's subtree — on each claim or decision.)
    case_in_reach = Case.objects.filter(cases_in_reach_q(user), pk=OuterRef("case_id"))
    return _base().filter(
        Q(Exists(case_in_reach))
        | Q(owner=user)
        | Q(completed_by=user)
        | (Q(status=STATUS.NEW) & eligible_q(user))
    )


def open_tasks():
    """Open human tasks, oldest first: the queryset to prefetch onto a page of cases (the
    prefetch itself narrows it to the page's cases)."""
    return _base().filter(status__in=OPEN_STATUSES).order_by("created")


def open_tasks_of(case_ids):
    """Open human tasks of the given cases, for embedding in case JSON (one query)."""
    return open_tasks().filter(case_id__in=case_ids)


def round_of(task):
    """The task's round as it stands, a list: every task not cancelled, consultations
    included, in order. Those of kind `COUNTING_KINDS` decide the step's outcome."""
    return statements.rows("round_of", _round, task.batch)


def _round(batch):
    return (
        CaseTask.objects.filter(batch=batch)
        .exclude(status=STATUS.CANCELED)
        .select_related("case", "owner")
        .order_by("kind", "position", "pk")
    )


COUNTING_KINDS = (TaskKind.APPROVAL, TaskKind.ADDED)


def step_q(text):
    """The task lists' step filter (the page's 环节 and the API's `step`): a step's code
    (`grassroots_review`), as before, or its title as the lists show it, in the active language
    (`基层工会审核`). A code means that step only; a title, every step so titled — or, when no
    step's title is exactly that, every step whose title contains it (any case). Titles become the
    matching steps' stored references, so the query compares the stored step as the code
    filter does."""
    from workflows.base import registered

    text = (text or "").strip()
    if not text:
        return Q()  # empty, like every optional filter, means not given
    by_code = Q(flow_task__endswith=f".{text}")
    nodes = [node for flow in registered().values() for node in flow.instance.nodes()]
    if any(node.name == text for node in nodes):
        return by_code
    wanted = text.casefold()
    titled = [  # the steps a task list shows
        (str(node.task_title).strip().casefold(), node)
        for node in nodes
        if getattr(node, "task_type", None) == HUMAN and getattr(node, "task_title", None)
    ]
    matches = [node for title, node in titled if title == wanted] or [
        node for title, node in titled if wanted in title
    ]
    return by_code | Q(flow_task__in=sorted({step_ref(node) for node in matches}))


def overdue_q(now=None):
    return Q(status__in=OPEN_STATUSES, due_at__lt=now or timezone.now())
