"""notify(): what it writes, in which transaction, and for whom."""

import hashlib
import hmac
import json
import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from notifications.models import Channel, Delivery, DeliveryStatus, Notification
from notifications.services import batched, notify
from notifications.services import enqueue as enqueue_deliveries

pytestmark = pytest.mark.django_db


def _notify(case, recipients, event="case:1:approved", **kwargs):
    kwargs.setdefault("verb", "case_approved")
    kwargs.setdefault("title", "您的申请已批准")
    with transaction.atomic():
        return notify(event=event, recipients=recipients, case=case, **kwargs)


def test_inbox_row_and_outbox_rows_commit_together(
    make_case, make_user, make_endpoint, django_capture_on_commit_callbacks
):
    case = make_case()
    member, officer = make_user(), make_user(email="")
    make_endpoint(case.organization, "http://127.0.0.1:9/hook")

    with django_capture_on_commit_callbacks() as callbacks:
        ids = _notify(case, [member, officer], body="补助金额 3000 元", data={"amount": "3000.00"})

    assert set(Notification.objects.values_list("recipient__username", flat=True)) == {
        member.username,
        officer.username,
    }
    inbox = Notification.objects.get(recipient=member)
    assert (inbox.verb, inbox.title, inbox.body, inbox.case, inbox.read_at) == (
        "case_approved",
        "您的申请已批准",
        "补助金额 3000 元",
        case,
        None,
    )
    # One email (the officer has no address) and one webhook post, both waiting to be sent.
    deliveries = Delivery.objects.order_by("channel")
    assert [(d.channel, d.status) for d in deliveries] == [
        (Channel.EMAIL, DeliveryStatus.PENDING),
        (Channel.WEBHOOK, DeliveryStatus.PENDING),
    ]
    assert sorted(ids) == sorted(d.pk for d in deliveries)
    # Sending starts only after commit.
    assert len(callbacks) == 1


def test_a_failed_business_transaction_leaves_no_notification_and_sends_nothing(
    make_case, make_user, make_endpoint, django_capture_on_commit_callbacks, mailoutbox
):
    case = make_case()
    make_endpoint(case.organization, "http://127.0.0.1:9/hook")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError, match="business rule"),
        transaction.atomic(),
    ):
        notify(
            event="case:1:approved",
            recipients=[make_user()],
            verb="case_approved",
            title="x",
            case=case,
        )
        raise RuntimeError("business rule broken after notify")

    assert not Notification.objects.exists()
    assert not Delivery.objects.exists()
    assert callbacks == []
    assert mailoutbox == []


@pytest.mark.django_db(transaction=True)
def test_notify_refuses_to_run_outside_a_transaction(make_user):
    with pytest.raises(RuntimeError, match="transaction"):
        notify(event="x:1", recipients=[make_user()], verb="v", title="t")
    assert not Notification.objects.exists()


def test_repeating_an_event_adds_nothing(
    make_case, make_user, make_endpoint, django_capture_on_commit_callbacks
):
    case = make_case()
    member = make_user()
    make_endpoint(case.organization, "http://127.0.0.1:9/hook")
    _notify(case, [member])

    with django_capture_on_commit_callbacks() as callbacks:
        assert _notify(case, [member, member], title="again") == []

    assert Notification.objects.get().title == "您的申请已批准"
    assert Delivery.objects.count() == 2
    assert callbacks == []


def test_same_event_to_more_people_posts_the_webhook_once(make_case, make_user, make_endpoint):
    case = make_case()
    first, second = make_user(), make_user()
    make_endpoint(case.organization, "http://127.0.0.1:9/hook")

    _notify(case, [first])
    _notify(case, [second])

    assert Notification.objects.count() == 2
    assert Delivery.objects.filter(channel=Channel.EMAIL).count() == 2
    assert Delivery.objects.filter(channel=Channel.WEBHOOK).count() == 1


def test_webhooks_of_the_case_organization_and_of_ancestors_that_want_the_subtree(
    tree, make_case, make_user, make_endpoint
):
    case = make_case(organization=tree.grassroots)
    url = "http://127.0.0.1:9/hook"
    own = make_endpoint(tree.grassroots, url, include_descendants=False)
    county = make_endpoint(tree.county, url)
    town = make_endpoint(tree.town, url)
    make_endpoint(tree.county, url, include_descendants=False)  # only its own cases
    make_endpoint(tree.other_town, url)  # another branch
    make_endpoint(tree.grassroots, url, is_active=False)

    _notify(case, [make_user(email="")])

    posted = Delivery.objects.filter(channel=Channel.WEBHOOK)
    assert {d.endpoint for d in posted} == {own, county, town}


def test_no_case_no_webhook_and_inactive_users_are_skipped(tree, make_user, make_endpoint):
    make_endpoint(tree.county, "http://127.0.0.1:9/hook")
    active, gone = make_user(), make_user(is_active=False)

    _notify(None, [active, gone], event="reminder:7")

    assert list(Notification.objects.values_list("recipient", flat=True)) == [active.pk]
    assert [d.recipient for d in Delivery.objects.all()] == [active]


def test_notify_is_cheap_for_many_recipients(
    make_case, make_user, make_endpoint, django_assert_max_num_queries
):
    case = make_case()
    make_endpoint(case.organization, "http://127.0.0.1:9/hook")
    users = [make_user() for _ in range(30)]
    case = type(case).objects.select_related("organization").get(pk=case.pk)

    with django_assert_max_num_queries(8), transaction.atomic():
        notify(event="case:1:approved", recipients=users, verb="v", title="t", case=case)

    assert Notification.objects.count() == 30
    assert Delivery.objects.count() == 31


def test_email_and_webhook_are_rendered_from_the_notification(
    make_case,
    make_user,
    make_endpoint,
    eager_celery,
    mailoutbox,
    webhook_receiver,
    django_capture_on_commit_callbacks,
):
    case = make_case()
    member = make_user(email="zhang@example.org")
    make_endpoint(case.organization, webhook_receiver.url, secret="s3cret")

    with django_capture_on_commit_callbacks(execute=True):
        _notify(
            case,
            [member],
            event=f"case:{case.pk}:approved",
            title="您的申请已批准",
            body="请到工会领取补助。",
            data={"amount": "3000.00"},
        )

    [mail] = mailoutbox
    assert mail.to == ["zhang@example.org"]
    assert mail.subject == f"[{case.number}] 您的申请已批准"
    assert "请到工会领取补助。" in mail.body and case.number in mail.body
    assert mail.extra_headers["X-Unionflow-Event"] == f"case:{case.pk}:approved"
    assert mail.extra_headers["Message-ID"].startswith("<")

    [request] = webhook_receiver.requests
    document = json.loads(request.body)
    assert document.pop("sent_at")
    assert document == {
        "event": f"case:{case.pk}:approved",
        "verb": "case_approved",
        "title": "您的申请已批准",
        "body": "请到工会领取补助。",
        "case": {"id": case.pk, "number": case.number},
        "data": {"amount": "3000.00"},
    }
    delivery = Delivery.objects.get(channel=Channel.WEBHOOK)
    assert request.headers["Idempotency-Key"] == delivery.dedupe_key
    expected = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Unionflow-Signature"] == f"sha256={expected}"


# --- batched(): one operation's notifications written together ----------------------------------


def _inserts(ctx):
    """Statements inserting into the inbox or the outbox (SQLite writes `INSERT OR IGNORE`)."""
    return [
        q["sql"]
        for q in ctx.captured_queries
        if re.search(r'INSERT (OR IGNORE )?INTO "notifications_(notification|delivery)"', q["sql"])
    ]


def test_a_batch_writes_all_its_notifications_in_one_statement(
    make_case, make_user, make_endpoint, django_capture_on_commit_callbacks
):
    case = make_case()
    officers, applicant = [make_user(), make_user()], make_user()
    make_endpoint(case.organization, "http://127.0.0.1:9/hook")

    with (
        django_capture_on_commit_callbacks() as callbacks,
        CaptureQueriesContext(connection) as ctx,
        transaction.atomic(),
        batched(),
    ):
        for n in (1, 2):
            assert (
                notify(
                    event=f"task:{n}:opened", recipients=officers, verb="v", title="t", case=case
                )
                is None
            )
        notify(event="task:1:decided", recipients=[applicant], verb="v", title="t", case=case)
        assert not Notification.objects.exists()  # nothing yet: written when the batch ends

    writes = _inserts(ctx)
    assert len(writes) == (1 if connection.vendor == "postgresql" else 2)
    for table in ("notifications_notification", "notifications_delivery"):
        assert any(f'INTO "{table}"' in sql for sql in writes)
    assert sorted(Notification.objects.values_list("event", "recipient")) == sorted(
        [(f"task:{n}:opened", u.pk) for n in (1, 2) for u in officers]
        + [("task:1:decided", applicant.pk)]
    )
    # An email to each of the five, and one webhook post per event.
    assert Delivery.objects.filter(channel=Channel.EMAIL).count() == 5
    assert Delivery.objects.filter(channel=Channel.WEBHOOK).count() == 3
    # Sending starts once, after commit, with every new delivery.
    [enqueue] = [c for c in callbacks if getattr(c, "func", None) is enqueue_deliveries]
    assert sorted(enqueue.args[0]) == sorted(Delivery.objects.values_list("pk", flat=True))


def test_a_batch_leaves_out_what_a_rolled_back_savepoint_notified(make_case, make_user):
    case = make_case()
    kept, undone, later = make_user(), make_user(), make_user()

    with transaction.atomic(), batched():
        notify(event="case:1:a", recipients=[kept], verb="v", title="t", case=case)
        with pytest.raises(ValueError), transaction.atomic():
            notify(event="case:1:b", recipients=[undone], verb="v", title="t", case=case)
            raise ValueError("this part is undone")
        notify(event="case:1:c", recipients=[later], verb="v", title="t", case=case)

    assert sorted(Notification.objects.values_list("event", flat=True)) == ["case:1:a", "case:1:c"]
    assert not Delivery.objects.filter(recipient=undone).exists()


def test_a_batch_that_fails_writes_nothing(make_case, make_user):
    case = make_case()
    with transaction.atomic():
        with pytest.raises(ValueError), batched():
            notify(event="case:1:a", recipients=[make_user()], verb="v", title="t", case=case)
            raise ValueError("the operation failed")
        # The transaction goes on (a caller handled the error): still nothing was written.
        assert not Notification.objects.exists()
        assert not Delivery.objects.exists()


def test_an_event_repeated_within_a_batch_is_written_once(make_case, make_user):
    case = make_case()
    member = make_user()
    with transaction.atomic(), batched():
        for _ in range(2):
            notify(event="case:1:a", recipients=[member], verb="v", title="t", case=case)
        with batched():  # a nested batch joins the outer one
            notify(event="case:1:a", recipients=[member], verb="v", title="t", case=case)
    assert Notification.objects.count() == 1
    assert Delivery.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_batched_refuses_to_run_outside_a_transaction():
    with pytest.raises(RuntimeError, match="transaction"), batched():
        pass


def test_an_email_links_to_what_it_is_about_and_names_the_case_once(
    make_case, make_user, eager_celery, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://union.example.org/"
    case = make_case()
    member = make_user(email="wang@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        _notify(
            case,
            [member],
            event="task:77:opened",
            title=f"新待办：基层工会审核（{case.number}）",
            data={"task": 77},
        )
        _notify(case, [member], event=f"case:{case.pk}:approved", title="您的申请已批准")
    task_mail, case_mail = mailoutbox
    assert task_mail.subject == f"新待办：基层工会审核（{case.number}）"  # not [number] twice
    assert "https://union.example.org/tasks/77/" in task_mail.body
    assert case_mail.subject == f"[{case.number}] 您的申请已批准"
    assert f"https://union.example.org/cases/{case.pk}/" in case_mail.body
