"""Home, the apply page, and error pages: JSON for API paths (the contract's error format),
Django's own elsewhere."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import defaults

from .ui import page


def _is_api(request):
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": _("Not found."), "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse(
            {
                "detail": _("Internal server error; the change was not saved."),
                "code": "server_error",
            },
            status=500,
        )
    return defaults.server_error(request)


@login_required
def home(request):
    """Officers start at their tasks; members at their cases."""
    from organizations.models import OFFICER_ROLES
    from organizations.selectors import memberships_of

    if request.user.is_superuser or any(
        m.role in OFFICER_ROLES for m in memberships_of(request.user)
    ):
        return redirect("task-list")
    return redirect("my-cases")


@page("apply")
def apply(request):
    """Which kinds of case the user can start, each with its form."""
    from cases.details import start_forms

    return render(request, "core/apply.html", {"forms": start_forms(request.user)})
