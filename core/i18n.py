"""Text written for someone else to read later — a notification, an email — is kept as its
message and values and put into words in the reader's language, not the language of whoever
happened to cause it (a member who switched the page to English must not send English to a
Chinese-reading officer)."""

from django.conf import settings
from django.utils import translation
from django.utils.functional import Promise, lazy


def _render(message, params):
    text = str(message)
    if not params:
        return text
    return text % {k: str(v) if isinstance(v, Promise) else v for k, v in params.items()}


_deferred = lazy(_render, str)


def deferred(message, params=None):
    """`message % params`, put into words each time it is read (`str()`), in the language
    active then. Pass `message` as gettext_lazy(...) so that it is translated at that moment;
    lazy values among `params` (labels) are translated then too."""
    return _deferred(message, params or {})


def reader_language(user):
    """The language `user` reads: the one they chose, else the site's."""
    language = getattr(user, "language", "") or ""
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def site_text(message, params=None):
    """`message % params` in the site's language (settings.LANGUAGE_CODE): for text stored
    once and read by everyone, such as a case's title, which must not depend on the language
    its submitter happened to use."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(deferred(message, params))
