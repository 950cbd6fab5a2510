"""Home, the apply page, and error pages: JSON for API paths (the contract's error format),
Django's own elsewhere."""

import math
import sys

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import defaults
from django.views import i18n as i18n_views
from django.views.decorators.http import require_safe

from .ui import page


def set_language(request):
    """The header's language switch (Django's view: cookie and redirect), also recorded for a
    signed-in person, so that their other devices, notifications and emails follow it."""
    response = i18n_views.set_language(request)
    language = request.POST.get("language")
    if (
        request.method == "POST"
        and request.user.is_authenticated
        and language in dict(settings.LANGUAGES)
    ):
        from organizations.services import choose_language

        choose_language(user=request.user, language=language)
    return response


def _is_api(request):
    return request.path.startswith("/api/")


class LoginView(auth_views.LoginView):
    """Django's login page, answering a refused login with 400 as the token endpoint does (and
    as every other page answers a refused form), not 200."""

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change one's own password (the old one, then the new one twice, held to the password
    validators). The session it was changed from stays signed in; the API tokens go."""

    template_name = "registration/password_change.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        from .services import change_password

        change_password(form)
        update_session_auth_hash(self.request, form.user)
        messages.success(self.request, _("Your password has been changed."))
        return redirect(self.get_success_url())

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response


def bad_request(request, exception=None):
    """A request Django could not read (a body past DATA_UPLOAD_MAX_MEMORY_SIZE, more fields
    than DATA_UPLOAD_MAX_NUMBER_FIELDS, a bad host …): 400 in the API's error format under
    /api/, else the 400 page. The exception's own text is not shown: it may name settings."""
    if isinstance(exception, RequestDataTooBig):
        detail = _("The request body is too large.")
    elif isinstance(exception, (TooManyFieldsSent, TooManyFilesSent)):
        detail = _("The request has too many fields.")
    else:
        detail = _("The request could not be read.")
    if _is_api(request):
        return JsonResponse({"detail": detail, "code": "bad_request"}, status=400)
    return render(request, "400.html", {"detail": detail}, status=400)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a form sent with a stale or missing token — the page stood open past
    a new login in another window, or the browser dropped the cookie. Nothing was saved; the
    page says so in the site's layout and links back to the form (when it was ours), instead
    of Django's bare page. The reason is technical and stays in the log."""
    back = request.META.get("HTTP_REFERER", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = ""
    return render(request, "403_csrf.html", {"back": back}, status=403)


def not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": _("Not found."), "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    from .middleware import database_unavailable

    # Django calls this while handling the error: a database that is down or stopped the
    # statement outside a view (a middleware reading the session) is a 503 too, not a 500.
    refused = database_unavailable(request, sys.exc_info()[1])
    if refused is not None:
        return refused
    if _is_api(request):
        return JsonResponse(
            {
                "detail": _("Internal server error; the change was not saved."),
                "code": "server_error",
            },
            status=500,
        )
    return defaults.server_error(request)


def lockout_message():
    """What a locked-out user reads: how long until they may try again."""
    minutes = max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return ngettext(
        "Too many failed login attempts. Try again in %(minutes)d minute.",
        "Too many failed login attempts. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def locked_out(request, original_response=None, credentials=None):
    """django-axes' lockout response (AXES_LOCKOUT_CALLABLE): 429, as JSON in the API's error
    format on API paths, else a page with the reason and a way back to the login form."""
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    if _is_api(request):
        response = JsonResponse({"detail": lockout_message(), "code": "locked_out"}, status=429)
    else:
        response = render(
            request, "registration/locked_out.html", {"message": lockout_message()}, status=429
        )
    response["Retry-After"] = retry_after
    return response


@require_safe
@login_required
def home(request):
    """Officers start at their tasks, auditors at the reports, members at their cases."""
    from organizations.models import OFFICER_ROLES
    from organizations.selectors import memberships_of

    from .context import is_auditor_only

    roles = {m.role for m in memberships_of(request.user)}
    if not request.user.is_superuser and is_auditor_only(roles):
        return redirect("reports-dashboard")
    if request.user.is_superuser or roles & OFFICER_ROLES:
        return redirect("task-list")
    return redirect("my-cases")


@require_safe
@page("apply")
def apply(request):
    """Which kinds of case the user can start, each with its form."""
    from cases.details import start_forms

    return render(request, "core/apply.html", {"forms": start_forms(request.user)})
