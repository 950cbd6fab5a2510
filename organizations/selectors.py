"""Reads about the union tree and who may see what. Every case and task query is scoped
through `reach_q` / `organizations_in_reach`."""

from django.db.models import Q

from core import statements

from .models import OFFICER_ROLES, Membership, Organization, Role


def memberships_of(user):
    """The user's (organization, role) pairs, cached on the user object for the request."""
    if not user or not user.is_authenticated:
        return []
    cached = getattr(user, "_memberships_cache", None)
    if cached is None:
        cached = statements.rows("memberships_of", _memberships, user.pk)
        user._memberships_cache = cached
    return cached


def _memberships(user_id):
    return Membership.objects.filter(user_id=user_id).select_related("organization")


def officer_paths(user):
    """Tree paths under which the user acts as an officer (own org and descendants)."""
    return sorted({m.organization.path for m in memberships_of(user) if m.role in OFFICER_ROLES})


def subtree_q(paths, field="path"):
    """A Q matching organizations at or below any of the given paths (a prefix filter)."""
    q = Q(pk__in=[])
    for path in paths:
        q |= Q(**{f"{field}__startswith": path})
    return q


def organizations_in_reach(user):
    """Organizations the user can see: every organization they belong to, and for officers
    the whole subtree below it."""
    own = {m.organization_id for m in memberships_of(user)}
    if user.is_superuser:
        return Organization.objects.all()
    return Organization.objects.filter(subtree_q(officer_paths(user)) | Q(pk__in=own))


def organization_in_reach(user, organization):
    return user.is_superuser or any(
        organization.path.startswith(path) for path in officer_paths(user)
    )


def has_role(user, role, organization):
    return any(
        m.role == role and m.organization_id == organization.pk for m in memberships_of(user)
    )


def users_with_role(role, organization):
    """Holders of `role` at exactly `organization`."""
    from .models import User

    return User.objects.filter(
        memberships__role=role, memberships__organization=organization, is_active=True
    ).distinct()


def member_union(user):
    """The grassroots union where the user is a member (first one if several)."""
    for m in memberships_of(user):
        if m.role == Role.MEMBER:
            return m.organization
    return None
