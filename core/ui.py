"""Helpers shared by the server-rendered pages: domain errors onto forms, sections."""

import re
import uuid
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.validators import RegexValidator
from django.db import IntegrityError, transaction
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import IdempotencyRecord
from .rest import retry_after_header


def page(section):
    """A login-required page that highlights `section` in the header.

    A POST that succeeds redirects (post/redirect/get) or sends a file, so a POST answered with
    a page was refused, and says so with its status, as the API would: the refusal's status when a
    service refused (`form_error`, `refuse`) — 403 for a step the user may not take, 409 for a
    task someone else moved on, 429 with its Retry-After — else 400, the form's own validation
    having failed. A repeated submission of a OnceForm goes where the first one went (`once`)."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            request.nav_section = section
            sent = _already_sent(request)
            if sent is not None:
                return redirect(sent)
            response = view(request, *args, **kwargs)
            if request.method != "POST":
                return response
            if response.status_code == 200 and response.get("Content-Type", "").startswith(
                "text/html"
            ):
                response.status_code = getattr(request, "refusal_status", None) or 400
                for header, value in getattr(request, "refusal_headers", {}).items():
                    response[header] = value
            if response.status_code >= 400:
                # Refused because the same form's first send got there while this one was on
                # its way (the task it decided is closed now): it is that send's result.
                sent = _already_sent(request, refused=True)
                if sent is not None:
                    return redirect(sent)
            return response

        return wrapper

    return decorate


def refuse(request, exc):
    """A service refused a POST that has no form to show it on: the message at the top of the
    page shown again (not a redirect), which answers with the refusal's status."""
    messages.error(request, str(exc.detail))
    _refused(request, exc)


def form_error(request, form, exc, *, prefix=""):
    """Put a service's DomainError on the form: each named field next to that field (unknown
    names as form-wide errors), else the message at the top; the page that shows the form again
    answers with the error's status."""
    _refused(request, exc)
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


def _refused(request, exc):
    """What `page` answers a refused POST with: the error's status and headers, as the API
    does (core.rest.exception_handler)."""
    request.refusal_status = exc.status_code
    request.refusal_headers = retry_after_header(exc)


# What OnceForm renders (a uuid4 hex), or a test's shorter key.
_FORM_KEY = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")


class OnceForm(forms.Form):
    """A form whose submission records something carries a one-time key: a second submission
    of the same rendered form (a double tap on a slow phone, a resend after a timeout) gets the
    first one's result (`once`) instead of recording it again."""

    form_key = forms.CharField(
        widget=forms.HiddenInput,
        required=False,
        validators=[
            RegexValidator(_FORM_KEY, gettext_lazy("Reload the page and send the form again."))
        ],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["form_key"] = uuid.uuid4().hex


def _form_key(request):
    """The record key of the POSTed form's one-time key; None without one (or with one no
    rendered form carries)."""
    key = request.POST.get("form_key", "") if request.method == "POST" else ""
    return f"page:{key}" if _FORM_KEY.match(key) else None


def _already_sent(request, *, refused=False):
    """The URL the first submission of this rendered OnceForm went to, when this is a repeat
    (checked before the form: a repeat may no longer be valid — the task it decided is closed —
    and is still the same submission), with a note; else None. `refused`: the view refused it,
    and its message is dropped for the note."""
    key = _form_key(request)
    if key is None or not request.user.is_authenticated:
        return None
    first = IdempotencyRecord.objects.filter(
        user=request.user, key=key, status_code__isnull=False
    ).first()
    if first is None:
        return None
    if refused:
        list(messages.get_messages(request))  # marks them shown: not carried to the next page
    messages.info(request, _("This form had already been sent; nothing was recorded twice."))
    return first.response_body["location"]


def once(request, form, act):
    """Run `act()` (→ the URL to go to) once per rendered OnceForm; `page` sends a repeated
    submission of the same form to the first one's URL, with a note, changing nothing. The key
    is kept in the same transaction as the work, as the API's Idempotency-Key is; a failed
    attempt leaves no key, so the corrected form can be sent."""
    key = _form_key(request) if form.cleaned_data.get("form_key") else None
    if key is None:
        return act()
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=request.user,
                    key=key,
                    method="POST",
                    path=request.path[:500],
                    request_hash="",
                )
        except IntegrityError:
            # A concurrent submission of the same form committed first.
            return _already_sent(request)
        location = act()
        record.status_code = 302
        record.response_body = {"location": location}
        record.save(update_fields=["status_code", "response_body"])
    return location
