"""Production settings: project.settings plus what a server on the Internet needs. Use with
DJANGO_SETTINGS_MODULE=project.production. It refuses to start without its secrets — a
missing key is an error here, never a silent fallback to a development value.

Required: SECRET_KEY, FIELD_ENCRYPTION_KEYS, BLIND_INDEX_KEY, TRAIL_SEAL_KEYS (and
ALLOWED_HOSTS in practice).
HTTPS is assumed: a reverse proxy terminates TLS and sets X-Forwarded-Proto (see
SECURE_PROXY_SSL_HEADER below); every default here can be relaxed from the environment."""

import os

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from project.settings import *  # noqa: F403
from project.settings import DEV_SECRET_KEY, env_bool


def _missing(name, why):
    return ImproperlyConfigured(
        f"{name} is not set: {why} Set it in the environment (see README, Configuration)."
    )


def _required(name, why):
    value = os.environ.get(name, "").strip()
    if not value:
        raise _missing(name, why)
    return value


def _required_list(name, why):
    """Comma-separated values, at least one (" , " is not set either)."""
    values = [v.strip() for v in os.environ.get(name, "").split(",") if v.strip()]
    if not values:
        raise _missing(name, why)
    return values


DEBUG = False

SECRET_KEY = _required("SECRET_KEY", "it signs sessions, tokens and password resets.")
if SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the development key; set a long random value for production."
    )

FIELD_ENCRYPTION_KEYS = _required_list(
    "FIELD_ENCRYPTION_KEYS", "it encrypts resident ID numbers in the database."
)
for _key in FIELD_ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be comma-separated Fernet keys "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
        ) from exc
BLIND_INDEX_KEY = _required("BLIND_INDEX_KEY", "it keys the lookup hashes of ID numbers.")
TRAIL_SEAL_KEYS = _required_list(
    "TRAIL_SEAL_KEYS",
    "it seals the audit trail (newest key first), so that an edit of the database cannot be "
    "covered up by recomputing the chain.",
)
if any(len(k) < 32 for k in TRAIL_SEAL_KEYS):
    raise ImproperlyConfigured(
        "TRAIL_SEAL_KEYS: each key must be a random value of at least 32 characters "
        "(python -c 'import secrets; print(secrets.token_urlsafe(32))'); a short one can be "
        "guessed from the seals themselves."
    )

# HTTPS only: redirect plain HTTP, tell browsers to stay on HTTPS, and send cookies over it only.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
# The header by which the TLS-terminating proxy says the client used HTTPS ("" when the app
# itself is reached directly — then a client could forge it).
_proxy_ssl_header = os.environ.get("SECURE_PROXY_SSL_HEADER", "HTTP_X_FORWARDED_PROTO")
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header, "https") if _proxy_ssl_header else None
