from django.conf import settings
from django.utils.translation import gettext as _

from core.errors import Invalid


def choose_language(*, user, language):
    """Record the language `user` reads the pages, notifications and emails in."""
    if language not in dict(settings.LANGUAGES):
        message = _("Choose one of: %(choices)s.") % {
            "choices": ", ".join(dict(settings.LANGUAGES))
        }
        raise Invalid(message, fields={"language": [message]})
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
