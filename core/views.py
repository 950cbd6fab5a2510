"""Error pages: JSON for API paths (the contract's error format), Django's own elsewhere."""

from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults


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
