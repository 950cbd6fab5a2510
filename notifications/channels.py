"""Senders, one per channel. Each takes a Delivery and raises on any failure; the caller
(services.attempt_delivery) records the outcome and decides about retries."""

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from .models import Channel

USER_AGENT = "unionflow-webhook/1"


class DeliveryError(Exception):
    """The channel refused or could not take the message."""


def _mail_domain():
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2]
    return domain or "unionflow.local"


def message_id(dedupe_key):
    """A Message-ID that is the same on every attempt, so a mail server or client that sees
    a resend after an ambiguous failure can drop it."""
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()[:40]
    return f"<{digest}@{_mail_domain()}>"


def send_email(delivery):
    payload = delivery.payload
    message = EmailMessage(
        subject=payload["subject"],
        body=payload["body"],
        to=payload["to"],
        headers={
            "Message-ID": message_id(delivery.dedupe_key),
            "X-Unionflow-Event": delivery.event,
        },
    )
    if message.send(fail_silently=False) != 1:
        raise DeliveryError("The mail backend did not accept the message.")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirected POST would be replayed as a GET without the body: treat it as a failure.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def sign(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(delivery):
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        raise DeliveryError("The webhook endpoint is disabled.")
    if urlsplit(endpoint.url).scheme not in ("http", "https"):
        raise DeliveryError("Only http and https webhook URLs are allowed.")
    document = {**delivery.payload, "sent_at": timezone.now().isoformat()}
    body = json.dumps(document, ensure_ascii=False, cls=DjangoJSONEncoder).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": delivery.dedupe_key,
        "X-Unionflow-Event": delivery.event,
    }
    if endpoint.secret:
        headers["X-Unionflow-Signature"] = sign(endpoint.secret, body)
    request = urllib.request.Request(endpoint.url, data=body, headers=headers, method="POST")
    timeout = settings.UNIONFLOW_OUTBOX["WEBHOOK_TIMEOUT_SECONDS"]
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:  # 3xx, 4xx, 5xx
        raise DeliveryError(f"HTTP {exc.code} from {endpoint.url}") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status} from {endpoint.url}")


SENDERS = {Channel.EMAIL: send_email, Channel.WEBHOOK: send_webhook}


def send(delivery):
    SENDERS[delivery.channel](delivery)
