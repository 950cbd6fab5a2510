"""Tasks whose holder or queue no longer fits: an account switched off, a role taken away, a
union moved under another organization. The beat (every minute) hands each such task to those
who may act on it now; each is handled under its process lock taken with SKIP LOCKED and checked
again there, so overlapping runs act once. Until it runs, the holder's decision and other
operations are refused (tasks._holder_problem)."""

import logging
import uuid

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils.translation import gettext_lazy
from viewflow.workflow.status import STATUS

from cases import trail
from core import generation, memo
from core.i18n import deferred
from notifications.services import notify
from organizations.models import Membership

from ..models import OPEN_STATUSES, QUEUED, CaseTask, TaskKind
from .delegations import locked_for_beat
from .rounds import fallback_queue, offered_at, recipients_for

logger = logging.getLogger(__name__)

ACCOUNT_INACTIVE = "account_inactive"
ROLE_REMOVED = "role_removed"
ORGANIZATION_MOVED = "organization_moved"


def settle_holders():
    """One beat run. Returns how many tasks changed hands."""
    moved = 0
    for find, settle in (
        (_queue_tasks_of_inactive, _release_from_inactive),
        (_named_tasks_of_inactive, _offer_from_inactive),
        (_held_without_role, _release_without_role),
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


def _named_tasks_of_inactive():
    """A step's own tasks named for one person (a mediator's, a task transferred to someone by
    name: no queue) whose account is inactive."""
    named = CaseTask.objects.filter(
        status=STATUS.ASSIGNED,
        owner__is_active=False,
        on_behalf_of__isnull=True,
        candidate_organization__isnull=True,
        kind=TaskKind.APPROVAL,
    )
    return _ids(named)


def _offer_from_inactive(task):
    """To the queue the step falls back to when its people may not act (rounds.fallback_queue);
    the applicant's own step waits for them: nobody else may act on it."""
    if (
        task.status != STATUS.ASSIGNED
        or task.owner.is_active
        or task.on_behalf_of_id
        or task.candidate_organization_id
        or not task.flow_task.officer_operations
    ):
        return False
    role, organization = fallback_queue(task.case, task.flow_task)
    _offer(task, role, organization, ACCOUNT_INACTIVE, moved=True)
    return True


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
