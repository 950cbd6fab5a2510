"""Helpers shared by the server-rendered pages: domain errors onto forms, sections."""

from functools import wraps

from django.contrib.auth.decorators import login_required


def page(section):
    """A login-required page that highlights `section` in the header."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            request.nav_section = section
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def form_error(form, exc, *, prefix=""):
    """Put a service's DomainError on the form: each named field next to that field (unknown
    names as form-wide errors), else the message at the top."""
    placed = False
    for name, messages in (exc.fields or {}).items():
        field = name.removeprefix(prefix)
        # A task's declared fields come back as "data.<name>"; their form fields are data_<name>.
        candidates = (field, field.replace(".", "_"), field.removeprefix("data."))
        target = next((c for c in candidates if c in form.fields), None)
        for message in messages if isinstance(messages, list) else [messages]:
            form.add_error(target, str(message))
            placed = True
    if not placed:
        form.add_error(None, str(exc.detail))
