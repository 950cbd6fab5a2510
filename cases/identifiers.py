"""Resident ID numbers (居民身份证号码, GB 11643), checked the same way by every process: the
message names what is wrong, and a birth date in the future or more than MAX_AGE_YEARS back
is refused (python-stdnum checks only that it is a date)."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from stdnum.cn import ric
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)

# A birth date further back than this is a typo, not a living person (a sanity bound).
MAX_AGE_YEARS = 120

RIC_MESSAGES = {
    InvalidLength: _("A resident ID number has 18 characters."),
    InvalidFormat: _("A resident ID number is 17 digits followed by a digit or X."),
    InvalidChecksum: _("The check digit does not match (GB 11643): check the number."),
}
RIC_BAD_DATE = _("The birth date in this number is not a valid date.")
RIC_BAD_REGION = _(
    "The region code in this number (its first 6 digits) is not an administrative division "
    "of its birth year."
)
RIC_FUTURE_BIRTH = _("The birth date in this number is in the future.")
RIC_TOO_OLD = _("The birth date in this number is more than %(years)s years ago.")


class InvalidResidentId(ValueError):
    """`str()` is the message for the person who typed it."""


def resident_id(value, *, today=None):
    """The number normalized (upper-case X, no spaces), or InvalidResidentId naming what is
    wrong: length, format, check digit, birth date or region code, or an impossible age."""
    try:
        number = ric.validate(value)
    except InvalidComponent as exc:
        # stdnum raises this for both the birth date and the region (place of birth).
        try:
            ric.get_birth_date(value)
        except ValidationError:
            raise InvalidResidentId(str(RIC_BAD_DATE)) from exc
        raise InvalidResidentId(str(RIC_BAD_REGION)) from exc
    except ValidationError as exc:
        message = RIC_MESSAGES.get(type(exc), _("Not a valid resident ID number."))
        raise InvalidResidentId(str(message)) from exc
    born = ric.get_birth_date(number)
    today = today or timezone.localdate()
    if born > today:
        raise InvalidResidentId(str(RIC_FUTURE_BIRTH))
    if born.year < today.year - MAX_AGE_YEARS:
        raise InvalidResidentId(str(RIC_TOO_OLD % {"years": MAX_AGE_YEARS}))
    return number
