"""Fuzzing of every server-rendered page, as each role of tests.fuzz.ROLES: each URL pattern
outside the API and the admin, its path filled with real and made-up ids, asked with odd query
values and sent odd form bodies (urlencoded and multipart). No page may answer 5xx, and a POST
answered with a page must say it was refused (4xx): a POST that succeeds redirects or sends a
file. Seeded, so a failure repeats; PAGE_FUZZ_TRIES deepens the run (2 per pattern in CI) and
PAGE_FUZZ_SEED varies it."""

import os
import random
import re
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver

from tests.fuzz import ROLES

TRIES = int(os.environ.get("PAGE_FUZZ_TRIES", "2"))
SEED = os.environ.get("PAGE_FUZZ_SEED", "0")
# Logging out would end the role's session; the language switch only sets a cookie.
SKIPPED = ("api/", "admin/", "static/", "accounts/logout/", "i18n/")
ODD = [
    "",
    "0",
    "-1",
    "1.5",
    "99999999999999999999",
    "abc",
    "'; --",
    "2026-13-45",
    "１２",
    "\x00",
    "a\x00b",
    "长" * 300,
    "%",
    "null",
    "[]",
    "approve",
    "2026-01",
    "http://evil.example/",
]
QUERY_KEYS = [
    "page",
    "q",
    "status",
    "process",
    "step",
    "view",
    "sort",
    "overdue",
    "organization",
    "from",
    "to",
    "year",
    "figure",
    "format",
    "next",
]
FORM_KEYS = [
    "op",
    "decision",
    "comment",
    "reason",
    "task",
    "data_amount",
    "amount",
    "date",
    "mediator",
    "party",
    "outcome",
    "period",
    "payroll_total",
    "headcount",
    "member_count",
    "delegate",
    "starts_at",
    "ends_at",
    "revoke",
    "aid_type",
    "id_number",
    "household_size",
    "annual_income",
    "kind",
    "figure",
    "format",
    "next",
    "from",
    "open",
    "form_key",
]


def _patterns(resolver=None, prefix=""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, prefix + str(entry.pattern))
        else:
            yield prefix + str(entry.pattern)


def _page_patterns():
    return [p for p in _patterns() if not p.startswith(SKIPPED) and "(?P" not in p]


def _ids():
    from approvals.models import CaseTask
    from cases.attachments.models import Attachment
    from cases.models import Case
    from notifications.models import Notification
    from reports.models import ExportJob

    def first(queryset):
        return list(queryset.order_by("pk").values_list("pk", flat=True)[:6])

    return {
        "tasks/": first(CaseTask.objects.filter(flow_task_type="HUMAN")),
        "attachments/": first(Attachment.objects.all()),
        "notifications/": first(Notification.objects.all()),
        "reports/exports/": first(ExportJob.objects.all()),
        "": first(Case.objects.all()),
    }


def _fill(pattern, ids, rng):
    pool = next(v for k, v in ids.items() if pattern.startswith(k))

    def value(match):
        return str(rng.choice([*pool, 0, 2**40]))

    return "/" + re.sub(r"<(?:\w+:)?\w+>", value, pattern)


def _odd(rng, keys, count):
    return {key: rng.choice(ODD) for key in rng.sample(keys, count)}


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
def test_no_page_fails_and_every_refused_post_says_so(role, demo, fuzz_data):
    from organizations.models import User

    client = Client(raise_request_exception=False)
    if role:
        client.force_login(User.objects.get(username=role))
    rng = random.Random(f"{SEED}:{role}")
    patterns = _page_patterns()
    assert len(patterns) > 35 and any(p.startswith("mediation/") for p in patterns)
    ids = _ids()
    failures = []
    for pattern in patterns:
        for attempt in range(TRIES):
            url = _fill(pattern, ids, rng)
            query = _odd(rng, QUERY_KEYS, 3)
            response = client.get(url, query)
            if response.status_code >= 500:
                failures.append(f"GET {url}?{urlencode(query)!r}: {response.status_code}")
            body = _odd(rng, FORM_KEYS, 8)
            if attempt % 2:
                response = client.post(
                    url, urlencode(body), content_type="application/x-www-form-urlencoded"
                )
            else:
                response = client.post(url, body)
            html = response.get("Content-Type", "").startswith("text/html")
            if response.status_code >= 500 or (response.status_code == 200 and html):
                failures.append(f"POST {url} {body!r}: {response.status_code}")
    assert not failures, "\n".join(failures)
