"""代理: out-of-office delegation."""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from viewflow.workflow.models import Process

from cases import trail
from core.config import parameter
from core.errors import Forbidden, Invalid, NotFound
from core.i18n import deferred
from notifications.services import notify
from organizations.models import ACTING_ROLES, OFFICER_ROLES, Membership, User

from ..models import OPEN_STATUSES, CaseTask, Delegation
from ..selectors import active_delegations

logger = logging.getLogger(__name__)


def _covers(delegator, delegate):
    """The delegate holds one of the delegator's officer roles at the same organization or at
    one above or below it (within reach of each other)."""
    mine = Membership.objects.filter(user=delegator, role__in=OFFICER_ROLES).select_related(
        "organization"
    )
    theirs = Membership.objects.filter(user=delegate).select_related("organization")
    for m in mine:
        for t in theirs:
            if t.role == m.role and (
                t.organization.path.startswith(m.organization.path)
                or m.organization.path.startswith(t.organization.path)
            ):
                return True
    return False


def create_delegation(*, user, delegate, starts_at, ends_at, reason=""):
    # Auditors hold no tasks (they only review), so they have nothing to delegate.
    if not Membership.objects.filter(user=user, role__in=ACTING_ROLES).exists():
        raise Forbidden(_("Only officers can delegate their tasks."))
    target = User.objects.filter(username=delegate, is_active=True).first()
    errors = {}
    if target is None:
        errors["delegate"] = [_("No active user with this name.")]
    elif target.pk == user.pk:
        errors["delegate"] = [_("Choose someone else.")]
    elif not _covers(user, target):
        errors["delegate"] = [_("The delegate must hold the same role within reach.")]
    longest = parameter("approvals.delegation_max_days")
    if ends_at <= starts_at:
        errors["ends_at"] = [_("Must be after the start.")]
    elif ends_at <= timezone.now():
        errors["ends_at"] = [_("Must be in the future.")]
    elif ends_at - starts_at > timedelta(days=int(longest)):
        errors["ends_at"] = [
            _("A delegation covers at most %(days)s days: check the end date.")
            % {"days": int(longest)}
        ]
    if errors:
        raise Invalid(_("The delegation cannot be recorded."), fields=errors)
    with transaction.atomic():
        # Both people's delegations are checked below: two requests at once (a double tap, the
        # two delegating to each other) queue here, in one order, so that both cannot pass.
        list(
            User.objects.select_for_update()
            .filter(pk__in=(user.pk, target.pk))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        overlapping = Delegation.objects.filter(
            delegator=user, revoked_at__isnull=True, starts_at__lt=ends_at, ends_at__gt=starts_at
        )
        if overlapping.exists():
            raise Invalid(
                _("You already have a delegation in this period."),
                fields={"starts_at": [_("Overlaps an existing delegation.")]},
            )
        # No chains: tasks handed on twice would reach someone neither colleague chose, and
        # the second link would not be checked against the first person's cases. The delegate
        # covering for someone in the period first asks them to choose another delegate.
        covered = sorted(
            Delegation.objects.filter(
                delegate=user, revoked_at__isnull=True, starts_at__lt=ends_at, ends_at__gt=starts_at
            ).values_list("delegator__username", flat=True)
        )
        if covered:
            message = _(
                "You stand in for %(names)s in this period: they must choose another delegate "
                "before you can delegate."
            ) % {"names": ", ".join(covered)}
            raise Invalid(message, code="delegation_chain", fields={"starts_at": [message]})
        if Delegation.objects.filter(
            delegator=target, revoked_at__isnull=True, starts_at__lt=ends_at, ends_at__gt=starts_at
        ).exists():
            raise Invalid(
                _("The delegate is away in this period themselves."),
                fields={"delegate": [_("The delegate has delegated their own tasks then.")]},
            )
        return Delegation.objects.create(
            delegator=user, delegate=target, starts_at=starts_at, ends_at=ends_at, reason=reason
        )


def revoke_delegation(*, user, delegation_id):
    """End a delegation now; what the delegate holds for `user` comes back to them. The
    revocation commits first: a claim that meets it waits on the delegation's row (_principal)
    and then no longer finds it. Each task comes back in its own transaction, under its case's
    lock, which is never waited for while the delegation's row is held (a claim holds its case
    and waits for that row); one not given back here the beat gives back within the minute."""
    with transaction.atomic():
        delegation = (
            Delegation.objects.select_for_update().filter(pk=delegation_id, delegator=user).first()
        )
        if delegation is None:
            raise NotFound(_("Delegation not found."))
        revoked_now = delegation.revoked_at is None
        if revoked_now:
            delegation.revoked_at = timezone.now()
            delegation.save(update_fields=["revoked_at"])
    if revoked_now:
        for task_id in _held_after_delegation(delegation.revoked_at, delegator=user):
            _return(task_id, wait=True, actor=user)
    return delegation


def return_delegated_tasks(now=None):
    """Beat (every minute): tasks a delegate still holds for a colleague whose delegation has
    ended go back to that colleague (revoking returns them at once: revoke_delegation).
    Returns how many tasks moved."""
    moved = 0
    for task_id in _held_after_delegation(now or timezone.now()):
        try:
            moved += _return(task_id, wait=False)
        except Exception:  # one broken case must not stop the others
            logger.exception("Returning delegated task %s failed", task_id)
    return moved


def locked_for_beat(task_id, *, wait):
    """The task, read under its process lock; None when the beat finds the case busy (the next
    run takes it)."""
    process_id = CaseTask.objects.filter(pk=task_id).values_list("process_id", flat=True).first()
    processes = Process.objects.select_for_update(skip_locked=not wait)
    if not processes.filter(pk=process_id).exists():
        return None
    return CaseTask.objects.select_related("case", "owner", "on_behalf_of").get(pk=task_id)


def delegation_covers(delegator, delegate, now=None):
    """Whether `delegate` stands in for `delegator` now (selectors.active_delegations)."""
    return active_delegations(delegator=delegator, delegate=delegate, at=now).exists()


def _held_after_delegation(now, delegator=None):
    """Open tasks held on behalf of someone (代理) by a delegate no delegation covers now."""
    covering = active_delegations(at=now).filter(
        delegator=OuterRef("on_behalf_of"), delegate=OuterRef("owner")
    )
    held = CaseTask.objects.filter(on_behalf_of__isnull=False, status__in=OPEN_STATUSES)
    if delegator is not None:
        held = held.filter(on_behalf_of=delegator)
    # In process order: a revocation locks one case after another, as another revocation would.
    held = held.filter(~Exists(covering)).order_by("process_id", "pk")
    return list(held.values_list("pk", flat=True))


def _return(task_id, *, wait, actor=None):
    """Give one such task back to the colleague it was held for, under its process lock (the
    beat skips a case busy elsewhere: the next run takes it). An inactive colleague's task
    held from a queue goes back to the queue."""
    with transaction.atomic():
        task = locked_for_beat(task_id, wait=wait)
        if task is None:
            return False
        if task.status not in OPEN_STATUSES or task.on_behalf_of_id is None:
            return False  # decided, released or returned meanwhile
        delegate, principal = task.owner, task.on_behalf_of
        if delegation_covers(principal, delegate):
            return False  # a new delegation covers it again
        task._trail_handled = True
        activation = task.flow_task.activation_class(task)
        task.on_behalf_of = None
        if principal.is_active or not task.queued:
            # An inactive colleague's task that no queue offers (named for them, or theirs as
            # an added approver) goes back to them all the same: the holders beat settles it
            # (services.holders: to the step's fallback queue, or withdrawn from the round).
            activation.reassign(principal)
            to = principal
        else:
            activation.unassign()
            to = None
        trail.append(
            task.case,
            "task.returned",
            actor=actor,  # the colleague who revoked it, or nobody: its end came
            task=task,
            data={"from": delegate.username, "to": to.username if to else None},
        )
        if to is not None:
            notify(
                event=f"task:{task.pk}:returned:{delegate.pk}",
                recipients=[principal],
                verb="task_returned",
                title=deferred(
                    gettext_lazy(
                        "Your delegation to %(delegate)s has ended: %(title)s (%(number)s) is "
                        "yours again"
                    ),
                    {
                        "delegate": delegate.display_name,
                        "title": task.flow_task.task_title,
                        "number": task.case.number,
                    },
                ),
                case=task.case,
                data={"task": task.pk},
            )
        return True
