"""What every page's header needs: the user's roles, unread notifications, open task count."""

from organizations.models import OFFICER_ROLES, Role
from organizations.selectors import memberships_of


def is_auditor_only(roles):
    """Auditors review and never act: no task list, no delegation, a start at the reports."""
    return Role.AUDITOR in roles and roles <= {Role.AUDITOR, Role.MEMBER}


def nav(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    from approvals import selectors as task_selectors
    from cases.details import start_forms
    from notifications.selectors import unread_count

    roles = {m.role for m in memberships_of(user)}
    officer = bool(roles & OFFICER_ROLES) or user.is_superuser
    return {
        "nav": {
            "is_officer": officer,
            "is_member": Role.MEMBER in roles,
            "is_auditor_only": is_auditor_only(roles),
            # Only where the page would offer something: officers and auditors mostly start
            # nothing themselves.
            "can_apply": bool(start_forms(user)),
            "is_finance": bool(roles & {Role.TREASURER, Role.FINANCE_OFFICER, Role.CHAIR}),
            "inbox_count": task_selectors.inbox(user).count() if officer else 0,
            "my_task_count": task_selectors.inbox(user).filter(case__applicant=user).count(),
            "unread": unread_count(user=user),
            "section": getattr(request, "nav_section", ""),
        }
    }
