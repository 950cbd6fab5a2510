"""Opening a step's round of tasks and deciding it: who is asked (by role, by name, escalated
when nobody may), the deadline, and how the decisions add up."""

import uuid
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext_lazy
from viewflow.workflow.status import STATUS

from cases import trail
from core import memo, statements
from core.config import parameter
from core.i18n import deferred
from notifications.services import notify
from organizations.models import Organization
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


def excluded_user_ids(case, node):
    """The applicant (unless the step lets them act), and — with separation of duties —
    whoever decided another step."""
    ids = set() if node.applicant_may_act else {case.applicant_id}
    if node.separation_of_duties:
        step = selectors.step_ref(node)
        for completed_by, on_behalf_of in statements.rows(
            "deciders_of_other_steps", _deciders_of_other_steps, case.pk, step
        ):
            ids.update(i for i in (completed_by, on_behalf_of) if i)
    return ids


def _deciders_of_other_steps(case_id, step):
    return (
        CaseTask.objects.filter(
            case_id=case_id,
            status=STATUS.DONE,
            decision__in=selectors.DECIDING,
            kind__in=(TaskKind.APPROVAL, TaskKind.ADDED),
        )
        .exclude(flow_task=step)
        .values_list("completed_by", "on_behalf_of")
    )


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
        return people

    return memo.remembered(("holders", role, organization.pk), read)


def _delegations_of_holders(role, organization_id, at):
    """The active delegations of the holders of `role` at `organization_id`, earliest first."""
    return (
        selectors.active_delegations(at=at)
        .filter(
            delegator__memberships__role=role,
            delegator__memberships__organization_id=organization_id,
            delegator__is_active=True,
        )
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


def _escalate(case, node, role, organization, excluded, needed=1):
    """Find the first level with enough people allowed to decide (a countersign needs one per
    slot): the step's organization, then the step's `escalate_to`, then the same role one
    level up, to the root. The trail says why."""
    tried = []
    for cand_role, cand_org in _escalation_levels(case, node, role, organization):
        if sum(u.pk not in excluded for u in holders(cand_role, cand_org)) >= needed:
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
    trail.append(
        case,
        "step.unstaffed",
        step=node.name,
        data={
            "reason": "no_eligible_approver",
            "role": role,
            "organization": organization.name,
            "needed": needed,
        },
    )
    return role, organization


def _plan(node, case):
    excluded = excluded_user_ids(case, node)
    if isinstance(node.approvers, Approvers):
        slots = node.mode.slots
        org = node.approvers.organization_for(case)
        role, org = _escalate(case, node, node.role, org, excluded, needed=slots)
        return [Assignment(organization=org, role=role) for _ in range(slots)], []
    people = [u for u in node.approvers.resolve(case) if u.pk not in excluded]
    if not people:
        fallback = node.escalate_to or Approvers(node.role or "admin")
        role, org = _escalate(case, node, fallback.role, fallback.organization_for(case), excluded)
        return [Assignment(organization=org, role=role)], []
    sequence = [u.pk for u in people] if node.mode.sequential else []
    if node.mode.sequential:
        people = people[:1]
    assignments = []
    for person in people:
        owner, principal = delegate_of(person)
        assignments.append(Assignment(owner=owner, on_behalf_of=principal, role=node.role))
    return assignments, sequence


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
    """Send the case back to its applicant for supplement (补正), returning to `return_to`."""
    node = activation.flow_task.flow_class.instance.supplement
    return node._create(activation, activation.task.token, data={"return_to": return_to.name})


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
    task_opened(task, case=case)
    return task


def recipients_for(task):
    """Who is told about a task: its assignee, or everyone who may claim it (delegates stand
    in for people who are away)."""
    if task.owner_id:
        return [task.owner]
    if not task.candidate_role:
        return []
    people = []
    for user in holders(task.candidate_role, task.candidate_organization):
        if user.pk == task.case.applicant_id and not task.applicant_may_act:
            continue
        acting, _principal = delegate_of(user)
        people.append(acting)
    return people


def task_opened(task, *, case):
    """A new task: record it and tell whoever may act on it."""
    if task.owner_id:
        who = {"assignee": task.owner.username}
        if task.on_behalf_of_id:
            who["on_behalf_of"] = task.on_behalf_of.username
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
        body=str(case.title or ""),
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
        _cancel(other, reason=reason)
        if other.owner_id:
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
    owner, principal = delegate_of(User.objects.get(pk=sequence[next_position]))
    activation = node.activation_class(task)
    nxt = new_task(
        node,
        activation,
        task.token,
        case,
        batch=task.batch,
        assignment=Assignment(owner=owner, on_behalf_of=principal, role=node.role),
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
