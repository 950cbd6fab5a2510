"""How long a signed-in page session lasts (SESSION_IDLE_MINUTES, SESSION_MAX_HOURS)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

SIGNED_IN_AT = "_signed_in_at"
SEEN_AT = "_seen_at"


@receiver(user_logged_in)
def _start_session_clock(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        now = timezone.now().timestamp()
        request.session[SIGNED_IN_AT] = request.session[SEEN_AT] = now


class SessionExpiryMiddleware:
    """A signed-in page session lasts SESSION_MAX_HOURS at most, and SESSION_IDLE_MINUTES
    without a request (the cookie's and the stored session's age; Django drops it then). Each
    request pushes the idle end back — by saving the session at most every tenth of the idle
    period, not on every request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated and request.session.session_key:
            self._check(request)
        return self.get_response(request)

    def _check(self, request):
        session, now = request.session, timezone.now().timestamp()
        signed_in = session.setdefault(SIGNED_IN_AT, now)
        if now - signed_in > settings.SESSION_MAX_HOURS * 3600:
            logout(request)
            messages.info(
                request,
                _("You were signed out %(hours)s hours after signing in; please sign in again.")
                % {"hours": settings.SESSION_MAX_HOURS},
            )
            return
        if now - session.get(SEEN_AT, 0) > settings.SESSION_IDLE_MINUTES * 6:  # a tenth, in s
            session[SEEN_AT] = now
