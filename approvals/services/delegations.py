"""代理: out-of-office delegation."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.config import parameter
from core.errors import Forbidden, Invalid, NotFound
from organizations.models import ACTING_ROLES, OFFICER_ROLES, Membership, User

from ..models import Delegation


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
    with transaction.atomic():
        delegation = (
            Delegation.objects.select_for_update().filter(pk=delegation_id, delegator=user).first()
        )
        if delegation is None:
            raise NotFound(_("Delegation not found."))
        if delegation.revoked_at is None:
            delegation.revoked_at = timezone.now()
            delegation.save(update_fields=["revoked_at"])
        return delegation
