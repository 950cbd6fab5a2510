"""Opening a step's round of tasks and deciding it: who is asked (by role, by name, escalated
when nobody may), the deadline, and how the decisions add up."""

import uuid
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from viewflow.workflow.status import STATUS

from cases import trail
from core import memo, statements
from core.config import parameter
from core.i18n import deferred
from notifications.services import notify
from organizations.models import Membership, Organization
from organizations.selectors import users_with_role

from .. import calendar, selectors
from ..models import CaseTask, TaskKind
from ..nodes import case_of
from ..spec import APPROVE, SKIPPED, Approvers


@dataclass
class Assignment:
    owner: object = None
    on_behalf_of: object = None
    organization: object = None
    role: str = ""
    # The delegate of `owner` who could not be given the task (separation of duties, own
    # case, the step's eligibility …): the trail says so.
    passed_over: object = None


def excluded_user_ids(case, node):
    """The applicant (unless the step lets them act), and — with separation of duties —
    whoever decided a step of another approval level (in person or through a delegate)."""
    ids = set() if node.applicant_may_act else {case.applicant_id}
    if node.separation_of_duties:
        level = selectors.duty_level(node)
        for completed_by, on_behalf_of in statements.rows(
            "deciders_of_other_levels", _deciders_of_other_levels, case.pk, level
        ):
            ids.update(i for i in (completed_by, on_behalf_of) if i)
    return ids


def _deciders_of_other_levels(case_id, level):
    return (
        CaseTask.objects.filter(
            case_id=case_id,
            status=STATUS.DONE,
            decision__in=selectors.DECIDING,
            kind__in=(TaskKind.APPROVAL, TaskKind.ADDED),
        )
        .exclude(duty_level=level)
        .values_list("completed_by", "on_behalf_of")
    )


def in_round_user_ids(batch, *, leaving=None):
    """Everyone who holds or decided a task of the round (not cancelled), in person or as the
    colleague a delegate acted for: a round needs distinct people. `leaving`: the pk of a task
    changing hands (a transfer), whose holder does not count."""
    ids = set()
    rows = CaseTask.objects.filter(batch=batch).exclude(status=STATUS.CANCELED)
    if leaving is not None:
        rows = rows.exclude(pk=leaving)
    for row in rows.values_list("owner_id", "completed_by_id", "on_behalf_of_id"):
        ids.update(i for i in row if i)
    return ids


def refusal(case, node, user, *, batch=None, principal=None, leaving=None):
    """Why `user` may not act on `node` of `case`, or None: their own case (or their
    principal's, when acting as a delegate), a decision at another level (separation of
    duties), the step's own eligibility check (e.g. a recused mediator), or — given the round's
    `batch` — a task of the same round already theirs."""
    excluded = excluded_user_ids(case, node)
    if user.pk in excluded or (principal is not None and principal.pk in excluded):
        return _("This person may not decide on this case (own case or another level decided).")
    if batch is not None and user.pk in in_round_user_ids(batch, leaving=leaving):
        return _("This person already holds or decided a task of this step.")
    check = getattr(node, "eligibility", None)
    if check is not None:
        problem = check(case, user)
        if problem:
            return str(problem)
    return None


def _away(user):
    return memo.remembered(("delegate_of", user.pk), lambda: _current_delegate(user)) is not None


def assignee(case, node, person, *, batch=None, leaving=None):
    """(who gets the task, on whose behalf) for `person` named for a task of `node`: their
    delegate while they are away — if the delegate may act here themselves and is not away
    too —, else `person` themself (the task waits for them: an ineligible delegate is never
    given it). Also says which delegate was passed over, for the trail."""
    owner, principal = delegate_of(person)
    if principal is None:
        return person, None, None
    if _away(owner) or refusal(case, node, owner, batch=batch, principal=person, leaving=leaving):
        return person, None, owner
    return owner, principal, None


def delegate_of(user):
    """(who acts, on whose behalf): the delegate while `user` is away, else `user` themself."""
    delegate = memo.remembered(("delegate_of", user.pk), lambda: _current_delegate(user))
    if delegate is not None:
        return delegate, user
    return user, None


def _delegates_by_person(delegations):
    """{person pk: their delegate} from active delegations, earliest first: the earliest
    counts."""
    delegates = {}
    for delegation in delegations:
        delegates.setdefault(delegation.delegator_id, delegation.delegate)
    return delegates


def _current_delegate(user):
    delegations = (
        selectors.active_delegations(delegator=user).select_related("delegate").order_by("pk")
    )
    return _delegates_by_person(delegations).get(user.pk)


def holders(role, organization):
    """Active holders of `role` at exactly `organization` (read once per operation, with the
    delegate each of them has now: `delegate_of` then needs no read of its own)."""

    def read():
        people = statements.rows("holders", users_with_role, role, organization.pk)
        if memo.active():
            delegates = _delegates_by_person(
                statements.rows(
                    "holders_away", _delegations_of_holders, role, organization.pk, timezone.now()
                )
            )
            for person in people:
                memo.keep(("delegate_of", person.pk), delegates.get(person.pk))
                # Whether their delegate is away too (read in the same statement): an away
                # delegate is passed over (`assignee`).
                stand_in = delegates.get(person.pk)
                if stand_in is not None:
                    memo.keep(("delegate_of", stand_in.pk), delegates.get(stand_in.pk))
        return people

    return memo.remembered(("holders", role, organization.pk), read)


def _delegations_of_holders(role, organization_id, at):
    """The active delegations of the holders of `role` at `organization_id`, and of their
    delegates (whether those are away too), earliest first."""
    holder_ids = Membership.objects.filter(
        role=role, organization_id=organization_id, user__is_active=True
    ).values("user_id")
    their_delegates = (
        selectors.active_delegations(at=at)
        .filter(delegator_id__in=holder_ids)
        .values("delegate_id")
    )
    return (
        selectors.active_delegations(at=at)
        .filter(Q(delegator_id__in=holder_ids) | Q(delegator_id__in=their_delegates))
        .select_related("delegate")
        .order_by("pk")
    )


def _escalation_levels(case, node, role, organization):
    """(role, organization) to try in order; the levels above are read only when reached (a
    step is almost always staffed at its own level)."""
    yield role, organization
    if node.escalate_to is not None:
        yield node.escalate_to.role, node.escalate_to.organization_for(case)
    org = organization
    while (parent := Organization.objects.get_parent(org)) is not None:
        yield role, parent
        org = parent


def _may_act(case, node, user, excluded):
    """`refusal` for a holder of the step's role, with the exclusions read once per round."""
    if user.pk in excluded:
        return False
    check = getattr(node, "eligibility", None)
    return check is None or not check(case, user)


def _escalate(case, node, role, organization, excluded, needed=1):
    """Find the first level with enough people allowed to decide (a countersign needs one per
    slot): the step's organization, then the step's `escalate_to`, then the same role one
    level up, to the root. The trail says why; when no level has them, whoever can put it
    right (`unstaffed_contacts`) is told."""
    tried = []
    for cand_role, cand_org in _escalation_levels(case, node, role, organization):
        if sum(_may_act(case, node, u, excluded) for u in holders(cand_role, cand_org)) >= needed:
            if tried:
                trail.append(
                    case,
                    "step.escalated",
                    step=node.name,
                    data={
                        "reason": "no_eligible_approver",
                        "from": [{"role": r, "organization": o.name} for r, o in tried],
                        "to": {"role": cand_role, "organization": cand_org.name},
                    },
                )
            return cand_role, cand_org
        tried.append((cand_role, cand_org))
    contacts = unstaffed_contacts(case, organization)
    trail.append(
        case,
        "step.unstaffed",
        step=node.name,
        data={
            "reason": "no_eligible_approver",
            "role": role,
            "organization": organization.name,
            "needed": needed,
            "notified": sorted(u.username for u in contacts),
        },
    )
    notify(
        event=f"case:{case.pk}:unstaffed:{node.name}:{uuid.uuid4().hex[:8]}",
        recipients=contacts,
        verb="step_unstaffed",
        title=deferred(
            gettext_lazy("Nobody may decide %(title)s (%(number)s): assign an approver"),
            {"title": node.task_title, "number": case.number},
        ),
        body=str(case.title or ""),
        case=case,
        data={"step": node.name, "role": role, "organization": organization.pk},
    )
    return role, organization


def unstaffed_contacts(case, organization):
    """Who is told that nobody may decide a step: the administrators nearest above (or at)
    the step's organization — they can give the role to someone or add an approver —, else the
    site's superusers. Never the applicant."""
    from organizations.models import User

    levels = [organization, *reversed(Organization.objects.get_ancestors(organization))]
    for level in levels:
        people = [u for u in holders("admin", level) if u.pk != case.applicant_id]
        if people:
            return people
    return list(
        User.objects.filter(is_superuser=True, is_active=True).exclude(pk=case.applicant_id)
    )


def _plan(node, case):
    excluded = excluded_user_ids(case, node)
    if isinstance(node.approvers, Approvers):
        slots = node.mode.slots
        org = node.approvers.organization_for(case)
        role, org = _escalate(case, node, node.role, org, excluded, needed=slots)
        return [Assignment(organization=org, role=role) for _ in range(slots)], []
    # A named person whose account is switched off is passed over, like one who may not act;
    # an applicant's own step (no officer operations) waits for them: nobody else may act on it.
    people = [
        u
        for u in node.approvers.resolve(case)
        if _may_act(case, node, u, excluded) and (u.is_active or not node.officer_operations)
    ]
    if not people:
        role, org = fallback_queue(case, node, excluded)
        return [Assignment(organization=org, role=role)], []
    sequence = [u.pk for u in people] if node.mode.sequential else []
    if node.mode.sequential:
        people = people[:1]
    assignments = []
    # One task per person in a round: a delegate named in the step themself, or standing in
    # for another named person already, does not take a second one.
    taken = {u.pk for u in people}
    for person in people:
        owner, principal, passed_over = assignee(case, node, person)
        if principal is not None and owner.pk in taken:
            owner, principal, passed_over = person, None, owner
        taken.add(owner.pk)
        assignments.append(
            Assignment(owner=owner, on_behalf_of=principal, role=node.role, passed_over=passed_over)
        )
    return assignments, sequence


def offered_at(case, node):
    """(role, organization) where a step offers its task now: its approvers' organization, or
    the level escalation finds (`_escalate`); a step naming people, its fallback queue."""
    if not isinstance(node.approvers, Approvers):
        return fallback_queue(case, node)
    excluded = excluded_user_ids(case, node)
    organization = node.approvers.organization_for(case)
    return _escalate(case, node, node.role, organization, excluded, needed=node.mode.slots)


def fallback_queue(case, node, excluded=None):
    """(role, organization) whose holders are offered a step's task when none of the people the
    step names may take it (recused, or their account switched off): the step's `escalate_to`,
    else its own role, at the nearest level staffed."""
    if excluded is None:
        excluded = excluded_user_ids(case, node)
    fallback = node.escalate_to or Approvers(node.role or "admin")
    return _escalate(case, node, fallback.role, fallback.organization_for(case), excluded)


def _deadline(node, case, opened_at):
    if node.due is None:
        return None, None
    due_at = node.due.due(opened_at, organization=case.organization)
    days_before = int(parameter("approvals.reminder_working_days", organization=case.organization))
    remind_at = calendar.reminder_time(due_at, days_before) if days_before else None
    if remind_at is not None and remind_at <= opened_at:
        remind_at = None  # too short a period to be reminded of it
    return due_at, remind_at


def new_task(
    node, prev_activation, token, case, *, batch, assignment, data=None, deadline=None, **fields
):
    """Create one task of `node` (status per assignment) linked after `prev_activation`.
    `deadline`: (due_at, remind_at) already computed for the round, else computed now."""
    now = timezone.now()
    due_at, remind_at = deadline if deadline is not None else _deadline(node, case, now)
    task = node.flow_class.task_class(
        process=prev_activation.process,
        flow_task=node,
        token=token,
        case=case,
        batch=batch,
        candidate_organization=assignment.organization,
        candidate_role=assignment.role,
        separation_of_duties=node.separation_of_duties,
        duty_level=selectors.duty_level(node),
        applicant_may_act=node.applicant_may_act,
        due_at=due_at,
        remind_at=remind_at,
        data=data or {},
        **fields,
    )
    if assignment.owner is not None:
        task.owner = assignment.owner
        task.on_behalf_of = assignment.on_behalf_of
        task.status = STATUS.ASSIGNED
        task.assigned = now
    task._trail_handled = True
    task._passed_over = assignment.passed_over
    task.save()
    task.previous.add(prev_activation.task)
    return task


def open_round(node, prev_activation, token, *, data):
    """The tasks a step opens when the flow reaches it; returns the first."""
    case = case_of(prev_activation.process)
    batch = uuid.uuid4()
    if node.required_when is not None and not node.required_when(case):
        task = new_task(node, prev_activation, token, case, batch=batch, assignment=Assignment())
        task.decision = SKIPPED
        trail.append(
            case,
            "step.skipped",
            task=task,
            data={"reason": getattr(node.required_when, "reason", "not required")},
        )
        return task
    assignments, sequence = _plan(node, case)
    # One deadline for the round's tasks (the parameter and calendar reads once, not per slot).
    deadline = _deadline(node, case, timezone.now())
    tasks = []
    for position, assignment in enumerate(assignments):
        task_data = {**data, "_sequence": sequence} if sequence else dict(data)
        tasks.append(
            new_task(
                node,
                prev_activation,
                token,
                case,
                batch=batch,
                assignment=assignment,
                data=task_data,
                position=position,
                deadline=deadline,
            )
        )
    for task in tasks:
        task_opened(task, case=case)
    return tasks[0]


def open_supplement(activation, *, return_to):
    """Send the case back to its applicant for supplement (补正), returning to `return_to`.
    The task carries why (the comment of whoever sent it back): the applicant reads it there
    and in the notification."""
    node = activation.flow_task.flow_class.instance.supplement
    data = {"return_to": return_to.name, "reason": activation.task.comment}
    return node._create(activation, activation.task.token, data=data)


def open_supplement_task(node, prev_activation, token, data):
    case = case_of(prev_activation.process)
    task = new_task(
        node,
        prev_activation,
        token,
        case,
        batch=uuid.uuid4(),
        assignment=Assignment(owner=case.applicant, role="member"),
        data=data,
    )
    task.separation_of_duties = False
    task.save(update_fields=["separation_of_duties"])
    task_opened(task, case=case, body=data.get("reason") or None)
    return task


def recipients_for(task):
    """Who is told about a task: its assignee, or everyone who may claim it (a delegate stands
    in for a holder who is away, unless the delegate may not act on it: then the holder is
    told). An approver added "after", still held, has not been asked yet: nobody."""
    if task.kind == TaskKind.ADDED and task.on_hold:
        return []
    if task.owner_id:
        return [task.owner]
    if not task.queued:
        return []
    case, node = task.case, task.flow_task
    excluded = excluded_user_ids(case, node)
    taken = in_round_user_ids(task.batch)
    people = []
    for user in holders(task.candidate_role, task.candidate_organization):
        if user.pk in taken or not _may_act(case, node, user, excluded):
            continue
        acting, _principal, _passed_over = assignee(case, node, user, batch=task.batch)
        people.append(acting)
    return people


def task_opened(task, *, case, body=None):
    """A new task: record it and tell whoever may act on it. `body`: what the assignee should
    read with it (e.g. why the case was sent back to them); the case's title by default."""
    if task.owner_id:
        who = {"assignee": task.owner.username}
        if task.on_behalf_of_id:
            who["on_behalf_of"] = task.on_behalf_of.username
        passed_over = getattr(task, "_passed_over", None)
        if passed_over is not None:
            who["delegate_passed_over"] = passed_over.username
    else:
        who = {"role": task.candidate_role, "organization": task.candidate_organization_id}
    if task.due_at:
        who["due_at"] = task.due_at
    trail.append(case, "task.created", task=task, data=who)
    # The slots of one round offered to a role (two investigators …) are one piece of news for
    # each holder of the role: told once per round, not once per slot.
    offered = not task.owner_id and task.batch
    notify(
        event=f"round:{task.batch}:opened" if offered else f"task:{task.pk}:opened",
        recipients=recipients_for(task),
        verb="task_created",
        title=deferred(
            gettext_lazy("New task: %(title)s (%(number)s)"),
            {"title": task.flow_task.task_title, "number": case.number},
        ),
        body=body if body is not None else str(case.title or ""),
        case=case,
        data={"task": task.pk, "step": task.flow_task.name},
    )


def _cancel(task, *, reason):
    task._trail_handled = True
    task.flow_task.activation_class(task).cancel()
    trail.append(task.case, "task.canceled", task=task, data={"reason": reason})


def close_round(task, *, reason="round_decided", round_tasks=None):
    """Cancel what is still open in the task's round (or-sign siblings, held approvers,
    consultations) and tell their assignees. `round_tasks`: the round as just read
    (selectors.round_of), to spare reading it again."""
    if round_tasks is None:
        round_tasks = selectors.round_of(task)
    open_tasks = [
        t for t in round_tasks if t.pk != task.pk and t.status in (STATUS.NEW, STATUS.ASSIGNED)
    ]
    for other in open_tasks:
        # An approver added "after" who is still held was never told of the task.
        never_told = other.kind == TaskKind.ADDED and other.on_hold
        _cancel(other, reason=reason)
        if other.owner_id and not never_told:
            notify(
                event=f"task:{other.pk}:canceled",
                recipients=[other.owner],
                verb="task_canceled",
                title=deferred(
                    gettext_lazy("Task no longer needed: %(title)s (%(number)s)"),
                    {"title": other.flow_task.task_title, "number": other.case.number},
                ),
                case=other.case,
                data={"task": other.pk, "reason": reason},
            )


def _open_next_in_sequence(task, own_tasks):
    sequence = own_tasks[0].data.get("_sequence", [])
    next_position = max(t.position for t in own_tasks) + 1
    if next_position >= len(sequence):
        return False
    from organizations.models import User

    node, case = task.flow_task, task.case
    owner, principal, passed_over = assignee(
        case, node, User.objects.get(pk=sequence[next_position]), batch=task.batch
    )
    activation = node.activation_class(task)
    nxt = new_task(
        node,
        activation,
        task.token,
        case,
        batch=task.batch,
        assignment=Assignment(
            owner=owner, on_behalf_of=principal, role=node.role, passed_over=passed_over
        ),
        position=next_position,
    )
    task_opened(nxt, case=case)
    return True


def _release_next_held(task):
    held = (
        CaseTask.objects.filter(batch=task.batch, kind=TaskKind.ADDED, on_hold=True)
        .exclude(status__in=(STATUS.DONE, STATUS.CANCELED))
        .order_by("position", "pk")
        .select_related("case", "owner")
        .first()
    )
    if held is None:
        return False
    held.on_hold = False
    held._trail_handled = True
    held.save(update_fields=["on_hold"])
    task_opened(held, case=held.case)
    return True


def round_outcome_after(task):
    """After `task` is done: the step's outcome if the round is decided (its open tasks then
    cancelled), or None while it waits for more decisions (the next sequential or added
    approver is asked)."""
    if task.kind == TaskKind.CONSULT:
        return None
    node = task.flow_task
    round_tasks = selectors.round_of(task)
    tasks = [t for t in round_tasks if t.kind in selectors.COUNTING_KINDS]
    own = [t for t in tasks if t.kind == TaskKind.APPROVAL]
    added = [t for t in tasks if t.kind == TaskKind.ADDED]

    def decisions(group):
        return [t.decision if t.status == STATUS.DONE else None for t in group]

    outcome = node.mode.outcome(decisions(own), decisions(added))
    own_result = node.mode.decide(decisions(own))
    if own_result == APPROVE and node.mode.sequential and _open_next_in_sequence(task, own):
        return None
    open_added = [t for t in added if t.status != STATUS.DONE and not t.on_hold]
    if outcome is None and own_result == APPROVE and not open_added and _release_next_held(task):
        return None
    if outcome is not None:
        close_round(task, round_tasks=round_tasks)
    return outcome
