"""Helpers shared by the server-rendered pages: domain errors onto forms, sections."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required


def page(section):
    """A login-required page that highlights `section` in the header.

    A POST that succeeds redirects (post/redirect/get) or sends a file, so a POST answered with
    a page was refused, and says so with its status, as the API would: the refusal's status when a
    service refused (`form_error`, `refuse`) — 403 for a step the user may not take, 409 for a
    task someone else moved on — else 400, the form's own validation having failed."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            request.nav_section = section
            response = view(request, *args, **kwargs)
            if (
                request.method == "POST"
                and response.status_code == 200
                and response.get("Content-Type", "").startswith("text/html")
            ):
                response.status_code = getattr(request, "refusal_status", None) or 400
            return response

        return wrapper

    return decorate


def refuse(request, exc):
    """A service refused a POST that has no form to show it on: the message at the top of the
    page shown again (not a redirect), which answers with the refusal's status."""
    messages.error(request, str(exc.detail))
    request.refusal_status = exc.status_code


def form_error(request, form, exc, *, prefix=""):
    """Put a service's DomainError on the form: each named field next to that field (unknown
    names as form-wide errors), else the message at the top; the page that shows the form again
    answers with the error's status."""
    request.refusal_status = exc.status_code
    placed = False
    for name, field_messages in (exc.fields or {}).items():
        field = name.removeprefix(prefix)
        # A task's declared fields come back as "data.<name>"; their form fields are data_<name>.
        candidates = (field, field.replace(".", "_"), field.removeprefix("data."))
        target = next((c for c in candidates if c in form.fields), None)
        for message in field_messages if isinstance(field_messages, list) else [field_messages]:
            form.add_error(target, str(message))
            placed = True
    if not placed:
        form.add_error(None, str(exc.detail))
