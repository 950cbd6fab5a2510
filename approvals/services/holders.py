"""Tasks whose holder or queue no longer fits: an account switched off, a role taken away, a
union moved under another organization. The beat (every minute) hands each such task to those
who may act on it now — or, for an approver added to a step (加签) whose account was switched
off, withdraws them from the round as if they had never been added; each is handled under its
process lock taken with SKIP LOCKED and checked again there, so overlapping runs act once. Until
it runs, the holder's decision and other operations are refused (tasks._holder_problem)."""

import functools
import logging
import uuid

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import CharField, Exists, ExpressionWrapper, F, OuterRef, Q
from django.db.models.lookups import StartsWith
from django.utils.translation import gettext_lazy
from viewflow.workflow.status import STATUS

from cases import trail
from core import generation, memo
from core.i18n import deferred
from notifications.services import notify
from organizations.models import Membership

from ..models import OPEN_STATUSES, QUEUED, CaseTask, TaskKind
from ..selectors import COUNTING_KINDS, step_ref
from ..spec import Users
from .delegations import locked_for_beat
from .rounds import fallback_queue, offered_at, recipients_for, round_outcome_after
from .tasks import _tell_applicant_of_decision

logger = logging.getLogger(__name__)

ACCOUNT_INACTIVE = "account_inactive"
ROLE_REMOVED = "role_removed"
ORGANIZATION_MOVED = "organization_moved"


def settle_holders():
    """One beat run. Returns how many tasks changed hands (or were withdrawn)."""
    moved = 0
    for find, settle in (
        (_queue_tasks_of_inactive, _release_from_inactive),
        (_named_tasks_of_inactive, _offer_from_inactive),
        (_added_approvers_inactive, _withdraw_approver),
        (_held_without_role, _release_without_role),
        (_named_tasks_without_role, _offer_from_holder_without_role),
        (_offered_outside_the_case, _offer_again),
    ):
        for task_id in find():
            try:
                with memo.operation(), transaction.atomic():
                    task = locked_for_beat(task_id, wait=False)
                    moved += task is not None and settle(task)
            except Exception:  # one broken case must not stop the others
                logger.exception("Settling the holder of task %s failed", task_id)
    return moved


def _queued():
    return CaseTask.objects.filter(QUEUED)


def _held_in_person():
    return _queued().filter(status=STATUS.ASSIGNED, on_behalf_of__isnull=True)


def _still(tasks, task):
    """Whether the locked task is still one of `tasks` (someone may have acted meanwhile)."""
    return tasks.filter(pk=task.pk).exists()


def _ids(tasks):
    # In process order: one run locks one case after another, as another run would.
    return list(tasks.order_by("process_id", "pk").values_list("pk", flat=True))


# --- an account switched off ---------------------------------------------------------------


def _queue_tasks_of_inactive():
    """Queue tasks claimed by someone whose account is inactive: nobody else could take them,
    and their holder cannot act."""
    return _ids(_held_in_person().filter(owner__is_active=False))


def _release_from_inactive(task):
    if not _still(_held_in_person().filter(owner__is_active=False), task):
        return False  # acted on meanwhile, or the account is back
    _offer(task, task.candidate_role, task.candidate_organization, ACCOUNT_INACTIVE)
    return True


def _named():
    """A step's own tasks named for one person (a mediator's, a task transferred to someone by
    name: no queue), held in person."""
    return CaseTask.objects.filter(
        status=STATUS.ASSIGNED,
        on_behalf_of__isnull=True,
        candidate_organization__isnull=True,
        kind=TaskKind.APPROVAL,
    )


def _named_of_inactive():
    return _named().filter(owner__is_active=False)


def _named_tasks_of_inactive():
    """Named tasks whose holder's account is inactive."""
    return _ids(_named_of_inactive())


def _offer_from_inactive(task):
    return _hand_on_named(task, _named_of_inactive(), ACCOUNT_INACTIVE)


def _named_without_role():
    """Named tasks of an active holder who no longer holds the step's role over the case: at
    the case's organization or above it, or at the case's own for a step that asks for it
    (`Users.role_at_case`: a mediator of the case's room). Only steps of officers: the
    applicant's own step waits for the applicant."""
    above, at_case = _named_officer_steps()
    holds = Membership.objects.filter(user=OuterRef("owner"), role=OuterRef("candidate_role"))
    case_path = ExpressionWrapper(OuterRef("case__organization__path"), CharField())
    holds_above = holds.filter(StartsWith(case_path, F("organization__path")))
    holds_at_case = holds.filter(organization=OuterRef("case__organization"))
    return (
        _named()
        .filter(owner__is_active=True)
        .filter(
            (Q(flow_task__in=above) & ~Exists(holds_above))
            | (Q(flow_task__in=at_case) & ~Exists(holds_at_case))
        )
    )


@functools.cache
def _named_officer_steps():
    """(steps naming people in a role held over the case, those asking for it at the case's
    own organization) of every registered flow, as stored references; fixed once the apps are
    loaded."""
    from workflows.base import registered

    above, at_case = [], []
    for flow_class in registered().values():
        for node in flow_class.instance.nodes():
            approvers = getattr(node, "approvers", None)
            if isinstance(approvers, Users) and approvers.role and node.officer_operations:
                (at_case if approvers.role_at_case else above).append(step_ref(node))
    return tuple(sorted(above)), tuple(sorted(at_case))


def _named_tasks_without_role():
    return _ids(_named_without_role())


def _offer_from_holder_without_role(task):
    return _hand_on_named(task, _named_without_role(), ROLE_REMOVED)


def _hand_on_named(task, still, reason):
    """The process's own way, when its flow has one (`named_holder_unavailable`: e.g. mediation
    sends the case back to its head to assign another mediator); else to the queue the step
    falls back to when its people may not act (rounds.fallback_queue). The applicant's own step
    waits for them: nobody else may act on it."""
    if not task.flow_task.officer_operations or not _still(still, task):
        return False
    if task.flow_task.flow_class.instance.named_holder_unavailable(task, reason):
        return True
    role, organization = fallback_queue(task.case, task.flow_task)
    _offer(task, role, organization, reason, moved=True)
    return True


def _added_for_inactive():
    """Open tasks of approvers added to a step (加签: consulted before, after or in parallel)
    held in person by an inactive account. A delegate's task for a colleague is not among
    them: an inactive delegate stands in for nobody, and the delegations beat gives it back
    to the colleague first (delegations.return_delegated_tasks)."""
    return CaseTask.objects.filter(
        kind__in=(TaskKind.ADDED, TaskKind.CONSULT),
        status__in=OPEN_STATUSES,
        owner__is_active=False,
        on_behalf_of__isnull=True,
    )


def _added_approvers_inactive():
    return _ids(_added_for_inactive())


def _withdraw_approver(task):
    """Cancel the task and carry on the round as if they had never been added: a consulted
    approver's task (before) comes off hold and goes back to its holder; a parallel one no
    longer holds up the step — decided now when the others have decided (rounds.
    round_outcome_after, as the last decision would have decided it) —; one added after and
    still held is dropped. Whoever added them (the trail's `task.approver_added`) and the
    holder of the task they were added to are told."""
    if not _still(_added_for_inactive(), task):
        return False  # decided or cancelled meanwhile, or the account is back
    approver, case = task.owner, task.case
    added = (
        case.trail.filter(action="task.approver_added", data__added_task=task.pk)
        .select_related("actor")
        .first()
    )
    task._trail_handled = True
    task.flow_task.activation_class(task).cancel()
    data = {"reason": ACCOUNT_INACTIVE, "approver": approver.username}
    if added is not None:
        data["position"] = added.data.get("position")
    trail.append(case, "task.approver_withdrawn", task=task, data=data)
    if task.kind == TaskKind.CONSULT:
        _resume(task)
    else:
        _round_goes_on(task)
    _tell_of_withdrawal(task, approver, added)
    return True


def _resume(consult):
    """The consulting task comes off hold, as when the consulted approver has answered."""
    original = CaseTask.objects.get(pk=consult.consult_for_id)
    if original.status in OPEN_STATUSES and original.on_hold:
        original.on_hold = False
        original._trail_handled = True
        original.save(update_fields=["on_hold"])


def _round_goes_on(withdrawn):
    """What the round's last decision would have done had the withdrawn approver never been
    added: the next approver added after is asked, or the round is decided and the flow moves
    on (nodes.StepActivation.execute) and the applicant is told (tasks.decide). A round nobody
    has decided in yet waits for them."""
    decided = (
        CaseTask.objects.filter(batch=withdrawn.batch, kind__in=COUNTING_KINDS, status=STATUS.DONE)
        .select_related("case", "owner")
        .order_by("-finished", "-pk")
        .first()
    )
    if decided is None:
        return
    activation = decided.flow_task.activation_class(decided)
    activation.outcome = round_outcome_after(decided)
    if activation.outcome is not None:
        activation.activate_next()
        _tell_applicant_of_decision(decided, activation.outcome)


def _tell_of_withdrawal(task, approver, added):
    """Whoever holds the task they were added to now (a consulting task is back with them), and
    whoever added them if that is someone else (told only that they were withdrawn)."""
    case = task.case
    original_id = added.task_id if added is not None else task.consult_for_id
    original = (
        CaseTask.objects.select_related("owner").filter(pk=original_id).first()
        if original_id
        else None
    )
    holder = original.owner if original is not None and original.is_open else None
    withdrawn = gettext_lazy(
        "%(user)s can no longer act (account switched off) and was withdrawn as an approver "
        "of %(title)s (%(number)s)"
    )
    back_with_you = gettext_lazy(
        "%(user)s can no longer act (account switched off): %(title)s (%(number)s) no "
        "longer waits for their opinion and is back with you"
    )
    adder = added.actor if added is not None else None
    told = []
    if holder is not None:
        told.append((holder, back_with_you if task.kind == TaskKind.CONSULT else withdrawn, True))
    if adder is not None and adder != holder:
        told.append((adder, withdrawn, False))
    for recipient, title, acts in told:
        data = {
            "reason": ACCOUNT_INACTIVE,
            "approver": approver.username,
            "withdrawn_task": task.pk,
        }
        if acts:
            data["task"] = original.pk  # where the reader acts
        notify(
            event=f"task:{task.pk}:approver_withdrawn:{recipient.pk}",
            recipients=[recipient],
            verb="approver_withdrawn",
            title=deferred(
                title,
                {
                    "user": approver.display_name,
                    "title": task.flow_task.task_title,
                    "number": case.number,
                },
            ),
            body=str(case.title or ""),
            case=case,
            data=data,
        )


# --- a role taken away -----------------------------------------------------------------------


def _without_role():
    holds = Membership.objects.filter(
        user=OuterRef("owner"),
        organization=OuterRef("candidate_organization"),
        role=OuterRef("candidate_role"),
    )
    return _held_in_person().filter(owner__is_active=True).filter(~Exists(holds))


def _held_without_role():
    """Queue tasks claimed in person by someone who no longer holds the role there."""
    return _ids(_without_role())


def _release_without_role(task):
    if not _still(_without_role(), task):
        return False
    _offer(task, task.candidate_role, task.candidate_organization, ROLE_REMOVED)
    return True


# --- a union moved under another organization ---------------------------------------------------


def _outside_the_case():
    """Open tasks offered at an organization that is no longer the case's or above it."""
    return (
        _queued()
        .filter(flow_task_type="HUMAN", status__in=OPEN_STATUSES)
        .exclude(case__organization__path__startswith=F("candidate_organization__path"))
    )


SCANNED_AT_GENERATION = "approvals:holders:scanned-generation"


def _offered_outside_the_case():
    """Scanned only when the configuration's generation has changed since a scan found nothing
    (core.generation; the organization tree is among what it watches): a union moves a few
    times a year, and the scan reads every open task."""
    current = _generation()
    if current is not None and cache.get(SCANNED_AT_GENERATION) == current:
        return []
    found = _ids(_outside_the_case())
    if current is not None and not found:
        # Tasks found are settled first (some may wait for a busy case): the next run looks again.
        cache.set(SCANNED_AT_GENERATION, current, None)
    return found


def _generation():
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {generation.READ}")
        return cursor.fetchone()[0]


def _offer_again(task):
    """Where the step would offer it now, from the case's place in the tree."""
    if not _still(_outside_the_case(), task):
        return False
    role, organization = offered_at(task.case, task.flow_task)
    _offer(task, role, organization, ORGANIZATION_MOVED, moved=True)
    return True


def _offer(task, role, organization, reason, *, moved=False):
    """Put the task on offer to the holders of `role` at `organization`, its deadline kept; the
    trail says why, and they are told. `moved`: another queue than the task's own."""
    holder = task.owner
    was = task.candidate_organization
    task._trail_handled = True
    task.owner = None
    task.on_behalf_of = None
    task.status = STATUS.NEW
    task.candidate_role = role
    task.candidate_organization = organization
    task.save()
    data = {"reason": reason, "role": role, "organization": organization.name}
    if holder is not None:
        data["from"] = holder.username
    if moved and was is not None:
        data["from_organization"] = was.name
    trail.append(task.case, "task.moved" if moved else "task.released", task=task, data=data)
    case = task.case
    notify(
        event=f"task:{task.pk}:offered:{uuid.uuid4().hex[:12]}",
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
