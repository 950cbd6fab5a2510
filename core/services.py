"""Writes of the core app that no other app owns."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import IdempotencyRecord

PURGE_BATCH_SIZE = 5000


def purge_idempotency_records(now=None):
    """Forget the first results of idempotent requests (API `Idempotency-Key`s, the pages'
    one-time form keys) older than IDEMPOTENCY_RETENTION_HOURS: a repeat comes within minutes,
    and every decision taken on a page leaves one. Daily by beat; how many went. In batches by
    primary key, each its own transaction, so that no long delete holds the table."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_RETENTION_HOURS)
    purged = 0
    while True:
        with transaction.atomic():
            batch = list(
                IdempotencyRecord.objects.filter(created_at__lt=cutoff)
                .order_by("pk")
                .values_list("pk", flat=True)[:PURGE_BATCH_SIZE]
            )
            if not batch:
                return purged
            purged += IdempotencyRecord.objects.filter(pk__in=batch).delete()[0]


def change_password(form):
    """Save a valid PasswordChangeForm and revoke the user's API tokens in one transaction: a
    token obtained with the old password (perhaps by whoever learned it) must not outlive it.
    The caller keeps the session it changed the password from (update_session_auth_hash)."""
    from rest_framework.authtoken.models import Token

    with transaction.atomic():
        user = form.save()
        Token.objects.filter(user=user).delete()
    return user
