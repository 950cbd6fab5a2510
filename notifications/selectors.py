"""Reads of the notifications app, scoped to the user and free of N+1."""

from .models import Notification


def inbox(*, user, unread=None):
    """The user's notifications, newest first; `unread` True/False filters, None keeps all."""
    qs = Notification.objects.filter(recipient=user).select_related("case")
    if unread is not None:
        qs = qs.filter(read_at__isnull=unread)
    return qs.order_by("-created_at", "-id")


def unread_count(*, user):
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
