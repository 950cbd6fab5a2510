"""Domain errors raised by services; the API maps each to its status code (see core.api)."""

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    status_code = 400
    default_code = "invalid"
    default_detail = _("Invalid request.")

    def __init__(self, detail=None, code=None, fields=None, retry_after=None):
        self.detail = detail if detail is not None else self.default_detail
        self.code = code or self.default_code
        self.fields = fields or {}
        # Seconds after which the same request may succeed (an urge within its interval): the
        # API and the pages answer with Retry-After (core.rest, core.ui).
        self.retry_after = retry_after
        super().__init__(str(self.detail))


class Invalid(DomainError):
    """Input that breaks a rule: 400, with per-field messages when a field is to blame."""


class Forbidden(DomainError):
    status_code = 403
    default_code = "permission_denied"
    default_detail = _("You are not allowed to do this.")


class NotFound(DomainError):
    """Missing, or outside the caller's reach: the two are indistinguishable on purpose."""

    status_code = 404
    default_code = "not_found"
    default_detail = _("Not found.")


class Conflict(DomainError):
    """The case or task is not in a state that allows this (already done, claimed …)."""

    status_code = 409
    default_code = "conflict"
    default_detail = _("The case or task is not in a state that allows this.")


class Throttled(DomainError):
    status_code = 429
    default_code = "throttled"
    default_detail = _("Too many requests; try again later.")
