import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _

from cases.trail import acting

from .rest import RETRY_AFTER_SECONDS, database_refusal

logger = logging.getLogger(__name__)


def client_ip(request):
    """The client's address: REMOTE_ADDR, or with NUM_PROXIES trusted proxies in front, the
    address the outermost trusted proxy saw (same rule as DRF's throttling)."""
    num_proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if num_proxies and forwarded:
        addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
        if addresses:
            return addresses[-min(num_proxies, len(addresses))]
    return request.META.get("REMOTE_ADDR") or None


class UserLanguageMiddleware:
    """A signed-in person reads the pages in the language they chose with the header's switch,
    on any device; otherwise LocaleMiddleware's choice (cookie, browser) stands."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None else ""
        if language and language in dict(settings.LANGUAGES):
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


class TrailContextMiddleware:
    """Every trail event written while serving a request records where it came from."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with acting(source_ip=client_ip(request)):
            return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """A view that fails because the database cannot be reached (down, restarting), or whose
    statement the database stopped for running too long, answers 503 with Retry-After instead
    of a 500: JSON in the API's error format under /api/, a plain
    page elsewhere. DRF views get the same from core.rest.exception_handler; this covers the
    rest (the UI, admin). Any other error is left to the 500 handler."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return database_unavailable(request, exception)


def database_unavailable(request, exception):
    """The 503 for an `exception` that says the database is unavailable or stopped the
    statement (None for any other): also used by the 500 handler, for such an error raised
    before the view (a middleware reading the session or the user)."""
    body = database_refusal(exception)
    if body is None:
        return None
    logger.warning("Database refused the request (%s): %s", body["code"], exception)
    if request.path.startswith("/api/"):
        response = JsonResponse(body, status=503)
    else:
        title = _("Service temporarily unavailable")
        response = HttpResponse(
            f"<!doctype html><title>{escape(title)}</title>"
            f"<h1>{escape(title)}</h1><p>{escape(body['detail'])}</p>",
            content_type="text/html; charset=utf-8",
            status=503,
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _holding_nul(params):
    return sorted(
        {key for key, values in params.lists() if "\x00" in key or any("\x00" in v for v in values)}
    )


class NullCharacterMiddleware:
    """A query parameter or form field holding a NUL character (U+0000) is refused with 400,
    naming it, before any view reads it. No input of ours may hold one, and PostgreSQL cannot
    store or compare it: a view that filtered on it failed with a 500. JSON bodies are left to
    the serializers, whose fields refuse it the same way; multipart bodies to the forms (an
    upload's size limit must be in place before its body is read)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        names = _holding_nul(request.GET)
        if not names and request.content_type == "application/x-www-form-urlencoded":
            names = _holding_nul(request.POST)
        if not names:
            return self.get_response(request)
        message = _("Null characters are not allowed.")
        names = [name.replace("\x00", "\\0") for name in names]
        detail = _("Invalid input: %(fields)s.") % {"fields": ", ".join(names)}
        if request.path.startswith("/api/"):
            body = {"detail": detail, "code": "invalid", "fields": dict.fromkeys(names, [message])}
            return JsonResponse(body, status=400)
        return render(
            request,
            "400.html",
            {"detail": detail, "fields": [(name, message) for name in names]},
            status=400,
        )


class MethodNotAllowedPageMiddleware:
    """Django answers a page asked with the wrong method (a form's address opened as a link, a
    POST to a page that only shows) with an empty 405; a person sees a blank page. This gives
    it the site's layout and a way on, keeping the status and the Allow header. The API's 405
    is DRF's, in its error format."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or response.content or request.path.startswith("/api/"):
            return response
        page = render(request, "405.html", status=405)
        if response.has_header("Allow"):
            page["Allow"] = response["Allow"]
        return page
