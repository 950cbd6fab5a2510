"""The admin pages of the app open, and the outbox cannot be edited by hand."""

import pytest
from django.db import transaction
from django.urls import reverse

from notifications.models import Delivery, Notification, WebhookEndpoint
from notifications.services import notify

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(make_case, make_user, make_endpoint):
    case = make_case()
    make_endpoint(case.organization, "http://127.0.0.1:9/hook", secret="s")
    with transaction.atomic():
        notify(event="case:1:approved", recipients=[make_user()], verb="v", title="t", case=case)


@pytest.mark.parametrize("model", [Notification, WebhookEndpoint, Delivery])
def test_admin_lists_and_change_pages_open(rows, admin_client, model):
    opts = model._meta
    changelist = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    obj = model.objects.first()
    change = admin_client.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    )
    assert change.status_code == 200


def test_deliveries_cannot_be_added_or_edited_in_the_admin(rows, admin_client):
    delivery = Delivery.objects.first()
    add = admin_client.get(reverse("admin:notifications_delivery_add"))
    assert add.status_code == 403
    url = reverse("admin:notifications_delivery_change", args=[delivery.pk])
    admin_client.post(url, {"status": "sent", "attempts": 5})
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)


def test_what_someone_was_told_cannot_be_added_or_rewritten_in_the_admin(rows, admin_client):
    notification = Notification.objects.first()
    assert admin_client.get(reverse("admin:notifications_notification_add")).status_code == 403
    url = reverse("admin:notifications_notification_change", args=[notification.pk])
    admin_client.post(url, {"title": "rewritten", "verb": "v", "event": "e"})
    notification.refresh_from_db()
    assert notification.title == "t"


def test_a_webhook_address_the_sender_cannot_post_to_is_refused(demo, client):
    from notifications.models import WebhookEndpoint

    client.force_login(demo.admin)
    base = {
        "organization": demo.org("示范县总工会").pk,
        "name": "群机器人",
        "secret": "",
        "is_active": "on",
        "include_descendants": "on",
        "created_at_0": "2026-12-01",
        "created_at_1": "08:00:00",
    }
    refused = client.post(
        "/admin/notifications/webhookendpoint/add/", {**base, "url": "ftp://example.com/x"}
    )
    assert refused.status_code == 200 and 'class="errorlist' in refused.content.decode()
    assert not WebhookEndpoint.objects.exists()
    added = client.post(
        "/admin/notifications/webhookendpoint/add/", {**base, "url": "https://example.com/hook"}
    )
    assert added.status_code == 302, added.content.decode()[:3000]
