"""What every page's header needs: the user's roles, unread notifications, open task count."""

from organizations.models import OFFICER_ROLES, Role
from organizations.selectors import memberships_of


def nav(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    from approvals import selectors as task_selectors
    from notifications.selectors import unread_count

    roles = {m.role for m in memberships_of(user)}
    officer = bool(roles & OFFICER_ROLES) or user.is_superuser
    return {
        "nav": {
            "is_officer": officer,
            "is_member": Role.MEMBER in roles,
            "is_auditor_only": roles <= {Role.AUDITOR, Role.MEMBER} and Role.AUDITOR in roles,
            "is_finance": bool(roles & {Role.TREASURER, Role.FINANCE_OFFICER, Role.CHAIR}),
            "inbox_count": task_selectors.inbox(user).count() if officer else 0,
            "my_task_count": task_selectors.inbox(user).filter(case__applicant=user).count(),
            "unread": unread_count(user=user),
            "section": getattr(request, "nav_section", ""),
        }
    }
