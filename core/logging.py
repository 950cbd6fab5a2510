"""Keeping secrets out of logs and error reports: passwords, tokens, the Authorization header,
resident ID numbers (and every field stored encrypted, and every step input declared
sensitive) and Fernet tokens.

`RedactSensitive` is a logging filter installed on the handlers in LOGGING; it rewrites each
record's message, traceback and stack text in place, so every handler after it sees the
redacted record too. `SensitiveExceptionReporterFilter` is Django's error reporter filter
(DEFAULT_EXCEPTION_REPORTER_FILTER): it hides the same names in POST data, frame variables
and settings, whether or not a view was decorated with `sensitive_post_parameters`."""

import functools
import logging
import re

from django.views.debug import SafeExceptionReporterFilter

REDACTED = "[REDACTED]"

# Names whose values are secret wherever they appear: form fields, JSON keys, headers,
# variables. Encrypted model fields and sensitive step inputs are added at run time.
_SECRET_NAME = (
    r"pass(?:word|wd|phrase)\d?|pwd|secret|token|authorization|api[_-]?key|sessionid|"
    r"cookie|id_number|signature"
)
SENSITIVE_NAME = re.compile(rf"(?:{_SECRET_NAME})", re.IGNORECASE)

# A resident ID number: 17 digits and a check character, not part of a longer word or number
# (a hash or a longer figure is left alone).
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
# A Fernet token (what the encrypted columns hold): version byte 0x80 → "gAAAAA…".
FERNET_TOKEN = re.compile(r"gAAAAA[A-Za-z0-9_\-]{20,}={0,2}")
# "Authorization: Token abc…", "HTTP_AUTHORIZATION': 'Bearer abc…'".
AUTH_HEADER = re.compile(
    r"(?P<key>(?:HTTP_)?AUTHORIZATION)(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?:(?P<scheme>Token|Bearer|Basic)\s+)?[^\s\"',;}&]+",
    re.IGNORECASE,
)
# A bare credential after its scheme, e.g. in a curl command line that was logged.
SCHEME_CREDENTIAL = re.compile(r"\b(?P<scheme>Token|Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]{16,}")


# Inputs declared secret elsewhere (approvals.spec.Field(sensitive=True) registers its name).
_declared_secret_names = set()


def treat_as_secret(name):
    """Redact the values of `name` from now on, as those of an encrypted field."""
    _declared_secret_names.add(name)


@functools.cache
def _encrypted_field_names():
    """Names of every model field stored encrypted (core.sensitive.EncryptedTextField)."""
    from django.apps import apps

    from core.sensitive import EncryptedTextField

    return frozenset(
        field.name
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, EncryptedTextField)
    )


def _field_names():
    from django.apps import apps

    encrypted = _encrypted_field_names() if apps.ready else frozenset()
    return encrypted | frozenset(_declared_secret_names)


def is_sensitive_name(name):
    name = str(name)
    return bool(SENSITIVE_NAME.search(name)) or name in _field_names()


@functools.cache
def _key_value_pattern(field_names):
    names = "|".join(
        [_SECRET_NAME, *(re.escape(n) for n in sorted(field_names, key=len, reverse=True))]
    )
    # key=value, "key": "value", 'key': ['value'] — the key may carry a prefix or suffix
    # (new_password1, applicant_id_number); a quoted value may hold spaces.
    return re.compile(
        rf"(?P<key>[\w\-]*(?:{names})[\w\-]*)(?P<sep>[\"']?\s*[:=]\s*)"
        r"(?P<value>\[REDACTED\]|\[[^\]]*\]|(?P<q>[\"'])(?:\\.|(?!(?P=q)).)*(?P=q)"
        r"|[^\s\"'&,;}\]]+)",
        re.IGNORECASE,
    )


def _redact_pair(match):
    value = match["value"]
    if value == REDACTED:
        return match.group(0)
    value = f"{match['q']}{REDACTED}{match['q']}" if match["q"] else REDACTED
    return f"{match['key']}{match['sep']}{value}"


def redact_text(text):
    """`text` with every secret it recognizably holds replaced by [REDACTED]."""
    if not text:
        return text
    text = AUTH_HEADER.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)
    text = SCHEME_CREDENTIAL.sub(lambda m: f"{m['scheme']} {REDACTED}", text)
    text = _key_value_pattern(_field_names()).sub(_redact_pair, text)
    text = FERNET_TOKEN.sub(REDACTED, text)
    return ID_NUMBER.sub(REDACTED, text)


def redact_value(value, name=""):
    """A copy of `value` (str, dict, list, tuple) with secrets replaced; other types as is."""
    if name and is_sensitive_name(name):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_value(v) for v in value)
    return value


class RedactSensitive(logging.Filter):
    """Rewrite a record's message, traceback and stack text without the secrets in them.
    The message is formatted once here (msg % args) so that secrets passed as arguments —
    a dict, a request body, an exception — are caught as well."""

    def filter(self, record):
        if getattr(record, "_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record for logging to report
            return True
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        record._redacted = True
        return True


class SensitiveExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's reporter filter, plus: POST parameters and frame variables with a sensitive
    name are always hidden, and ID numbers and Fernet tokens are hidden in any string."""

    hidden_settings = re.compile(
        r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|ENCRYPTION|BLIND_INDEX",
        flags=re.IGNORECASE,
    )

    def _cleanse_multivaluedict(self, multivaluedict):
        cleansed = multivaluedict.copy()
        for key in list(cleansed):
            if is_sensitive_name(key):
                cleansed.setlist(key, [self.cleansed_substitute])
            else:
                cleansed.setlist(key, [redact_value(v) for v in cleansed.getlist(key)])
        return cleansed

    def get_post_parameters(self, request):
        parameters = super().get_post_parameters(request)
        if request is None or not self.is_active(request):
            return parameters
        return self._cleanse_multivaluedict(parameters)

    def get_cleansed_multivaluedict(self, request, multivaluedict):
        multivaluedict = super().get_cleansed_multivaluedict(request, multivaluedict)
        if not self.is_active(request):
            return multivaluedict
        return self._cleanse_multivaluedict(multivaluedict)

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        if not self.is_active(request):
            return variables
        return [
            (
                name,
                self.cleansed_substitute
                if is_sensitive_name(name) and value != self.cleansed_substitute
                else redact_value(value),
            )
            for name, value in variables
        ]


def _redact_celery_handlers(logger=None, **kwargs):
    """A Celery worker replaces the root logger's handlers with its own (LOGGING's filter
    goes with them): put the filter on the new ones."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactSensitive) for f in handler.filters):
            handler.addFilter(RedactSensitive())


try:
    from celery.signals import after_setup_logger, after_setup_task_logger
except ImportError:  # pragma: no cover — Celery is a dependency; keep logging usable without
    pass
else:
    after_setup_logger.connect(_redact_celery_handlers, weak=False)
    after_setup_task_logger.connect(_redact_celery_handlers, weak=False)
