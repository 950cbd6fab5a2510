"""Sensitive values (resident ID numbers …): encrypted at rest so a database dump does not
reveal them, a keyed hash (blind index) to find duplicates without decrypting, and masking for
display to people who may not see them whole.

Keys: FIELD_ENCRYPTION_KEYS (comma-separated Fernet keys, newest first, so old rows stay
readable after a rotation) and BLIND_INDEX_KEY; TRAIL_SEAL_KEYS for the trail's seals
(cases.trail). Without them — development only — each is derived from SECRET_KEY."""

import base64
import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver


def _derive(info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        settings.SECRET_KEY.encode()
    )


@functools.cache
def _fernet():
    keys = [k.strip() for k in settings.FIELD_ENCRYPTION_KEYS if k.strip()]
    if not keys:
        keys = [base64.urlsafe_b64encode(_derive(b"unionflow field encryption")).decode()]
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS: {exc}") from exc


@functools.cache
def _index_key():
    if settings.BLIND_INDEX_KEY:
        return settings.BLIND_INDEX_KEY.encode()
    return _derive(b"unionflow blind index")


@functools.cache
def trail_seal_keys():
    """The keys of the trail's seals, newest first (cases.trail.seal)."""
    keys = [k.strip().encode() for k in settings.TRAIL_SEAL_KEYS if k.strip()]
    return keys or [_derive(b"unionflow trail seal")]


@receiver(setting_changed)
def _keys_changed(setting, **kwargs):
    if setting in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY", "TRAIL_SEAL_KEYS"):
        for cached in (_fernet, _index_key, trail_seal_keys):
            cached.cache_clear()


def encrypt(value):
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token):
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored value cannot be decrypted with FIELD_ENCRYPTION_KEYS (key lost or rotated out?)"
        ) from exc


def blind_index(value, *, scope):
    """A keyed hash of a normalized value, to look up equal values without decrypting.
    `scope` keeps indexes of different kinds of value unrelated."""
    normalized = "".join(str(value).split()).upper()
    return hmac.new(_index_key(), f"{scope}:{normalized}".encode(), hashlib.sha256).hexdigest()


def mask(value, *, keep_start=6, keep_end=4):
    """`110105199001010023` → `110105********0023`."""
    if not value:
        return value
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


class EncryptedTextField(models.TextField):
    """A text column holding a Fernet token; Python code sees the plain value."""

    def from_db_value(self, value, expression, connection):
        return None if value is None or value == "" else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
