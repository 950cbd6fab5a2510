"""Scale: a million tasks and two hundred thousand cases (quick: ten thousand / two thousand),
seeded in bulk (bench/seed.py), then the reads an officer waits for — inbox, queue, case list,
summary report — timed through the API in-process (django.test.Client with a token, so
serialization counts) and through the selector alone, and `verify_trail --all` timed as a
subprocess.

Targets (reported, not asserted): inbox p95 < 50 ms with 1,000,000 tasks; trail verification
> 50,000 events/s."""

import os
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from django.db import connection, reset_queries
from django.test import Client
from rest_framework.authtoken.models import Token

ROOT = Path(__file__).resolve().parent.parent

FULL = {"cases": 200_000, "tasks": 1_000_000, "towns": 8, "unions": 1000, "samples": 50}
QUICK = {"cases": 2_000, "tasks": 10_000, "towns": 2, "unions": 20, "samples": 10}

INBOX_TARGET_MS = 50
VERIFY_TARGET = 50_000


def _percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return None
    k = (len(ordered) - 1) * q
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


# A slow read stops sampling after this many seconds (at least MIN_SAMPLES calls), so one
# read that misses its target by far cannot take the whole run's time.
SAMPLE_SECONDS = float(os.environ.get("BENCH_SCALE_SAMPLE_SECONDS", "15"))
MIN_SAMPLES = 3


def _timed(fn, samples):
    """Milliseconds of `samples` calls after two warm-up calls (fewer, but at least
    MIN_SAMPLES, for a read slower than SAMPLE_SECONDS allows); and the queries of one call
    (counted by an execute wrapper: the test client's request signals reset Django's own
    query log)."""
    fn()
    queries = []
    with connection.execute_wrapper(
        lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)
    ):
        fn()
    times = []
    began = time.perf_counter()
    for _ in range(samples):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
        if len(times) >= MIN_SAMPLES and time.perf_counter() - began > SAMPLE_SECONDS:
            break
    return times, len(queries)


def _client(user):
    token, _ = Token.objects.get_or_create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}")


def _scenarios(year):
    """(name, username, API path, selector call) — the reads measured."""
    from approvals import selectors as tasks
    from cases.api import CaseFilter
    from cases.selectors import cases_in_reach
    from core.rest import PagesWithTotal
    from organizations.models import Organization
    from reports import selectors as reports
    from reports.params import Period

    county = Organization.objects.get(kind="county", depth=1)
    period = Period(date(year, 1, 1), date(year, 12, 31))

    def task_page(view):
        def run(user):  # a page and its total in one statement, as the API reads task lists
            qs = tasks.__dict__[view](user).order_by("created", "pk").only(*tasks.LIST_COLUMNS)
            rows, total = PagesWithTotal(qs).page_and_total(0, 20)
            return total, rows

        return run

    def case_page(params):
        def run(user):
            qs = CaseFilter(params, queryset=cases_in_reach(user)).qs
            return qs.count(), list(qs[:20])

        return run

    hardship_open = {"process": "hardship", "status": "in_progress"}
    return [
        ("inbox town_aid1", "town_aid1", "/api/v1/tasks/?view=inbox", task_page("inbox")),
        ("inbox county_aid", "county_aid", "/api/v1/tasks/?view=inbox", task_page("inbox")),
        ("queue town_aid1", "town_aid1", "/api/v1/tasks/?view=queue", task_page("queue")),
        ("queue county_aid", "county_aid", "/api/v1/tasks/?view=queue", task_page("queue")),
        ("queue chair1", "chair1", "/api/v1/tasks/?view=queue", task_page("queue")),
        ("case list town_aid1", "town_aid1", "/api/v1/cases/", case_page({})),
        ("case list county_aid", "county_aid", "/api/v1/cases/", case_page({})),
        (
            "case list county_aid, open hardship",
            "county_aid",
            "/api/v1/cases/?process=hardship&status=in_progress",
            case_page(hardship_open),
        ),
        (
            "case list town_aid1, search",
            "town_aid1",
            "/api/v1/cases/?q=KN-",
            case_page({"q": "KN-"}),
        ),
        (
            f"summary {year} county",
            "county_aid",
            f"/api/v1/reports/summary/?from={year}-01-01&to={year}-12-31&organization={county.pk}",
            lambda user: reports.summary(county, period),
        ),
    ]


def _sizes():
    from approvals.models import OPEN_STATUSES, CaseTask
    from organizations.models import User

    sizes = {}
    for name in ("town_aid1", "county_aid"):
        user = User.objects.get(username=name)
        sizes[name] = {
            "inbox": CaseTask.objects.filter(owner=user, status__in=OPEN_STATUSES).count(),
        }
    return sizes


def _verify_trail(env):
    """`manage.py verify_trail --all` in a subprocess, as cron or an operator runs it."""
    from cases.models import TrailEvent

    events = TrailEvent.objects.count()
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": env["settings_module"],
        "DATABASE_URL": env["database_url"],
        "CELERY_BROKER_URL": env["redis_url"],
    }
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "manage.py", "verify_trail", "--all", "--no-progress"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    out = done.stdout
    summary = re.search(r"(\d+) case\(s\), (\d+) event\(s\) checked, (\d+) broken", out)
    took = re.search(r"Took ([\d.]+) s", out)
    result = {
        "exit_code": done.returncode,
        "wall_seconds": round(wall, 2),
        "events_in_table": events,
        "events_per_second_wall": round(events / wall) if wall else None,
        "stdout_tail": out.strip().splitlines()[-2:],
    }
    if summary:
        result.update(
            cases=int(summary.group(1)), events=int(summary.group(2)), broken=int(summary.group(3))
        )
    if took:
        result["own_seconds"] = float(took.group(1))
        if result.get("events") and result["own_seconds"]:
            result["events_per_second_own"] = round(result["events"] / result["own_seconds"])
    if done.returncode:
        result["stderr_tail"] = done.stderr.strip().splitlines()[-5:]
    return result


def run(env):
    from django.utils import timezone

    from bench import seed
    from organizations.models import User

    size = QUICK if env.get("quick") else FULL
    notes = []
    log = env.get("log") or (lambda line: print(f"[scale] {line}", file=sys.stderr, flush=True))

    clock = time.monotonic()
    seeded = seed.seed(
        cases=size["cases"],
        tasks=size["tasks"],
        towns=size["towns"],
        unions=size["unions"],
        log=log,
    )
    seed_seconds = time.monotonic() - clock
    counts = seed.table_counts()
    log(f"seeded in {seed_seconds:.0f} s: {counts}")

    year = timezone.localdate().year
    rows = []
    data = {
        "size": size,
        "seed": {**seeded, "seconds": round(seed_seconds, 1), "counts": counts},
        "sizes": _sizes(),
        "latency": {},
    }
    for name, username, path, selector in _scenarios(year):
        user = User.objects.get(username=username)
        client = _client(user)

        def api(client=client, path=path):
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            return response

        def alone(user=user, selector=selector):
            # A fresh user object: no membership cache carried over between calls.
            return selector(User.objects.get(pk=user.pk))

        api_ms, api_queries = _timed(api, size["samples"])
        sel_ms, sel_queries = _timed(alone, size["samples"])
        count = api().json().get("count")
        entry = {
            "rows": count,
            "api_p50_ms": round(_percentile(api_ms, 0.5), 1),
            "api_p95_ms": round(_percentile(api_ms, 0.95), 1),
            "api_queries": api_queries,
            "selector_p50_ms": round(_percentile(sel_ms, 0.5), 1),
            "selector_p95_ms": round(_percentile(sel_ms, 0.95), 1),
            "selector_queries": sel_queries,
            "samples": len(api_ms),
        }
        data["latency"][name] = entry
        rows.append(
            [
                name,
                count if count is not None else "",
                entry["api_p50_ms"],
                entry["api_p95_ms"],
                entry["api_queries"],
                entry["selector_p50_ms"],
                entry["selector_p95_ms"],
            ]
        )
        log(f"{name}: {entry}")
        reset_queries()

    for name in ("inbox town_aid1", "inbox county_aid"):
        p95 = data["latency"][name]["api_p95_ms"]
        verdict = "met" if p95 < INBOX_TARGET_MS else "MISSED"
        notes.append(f"{name}: API p95 {p95} ms (target < {INBOX_TARGET_MS} ms: {verdict})")

    log("verify_trail --all …")
    verification = _verify_trail(env)
    data["verify_trail"] = verification
    log(f"verify_trail: {verification}")
    rate = verification.get("events_per_second_wall")
    rows.append(
        [
            f"verify_trail --all: {rate} events/s ({verification['wall_seconds']} s)",
            verification.get("events", ""),
            "",
            "",
            "",
            "",
            "",
        ]
    )
    if verification["exit_code"] or verification.get("broken"):
        notes.append(f"verify_trail FAILED: {verification}")
    notes.append(
        f"verify_trail --all: {verification.get('events')} events in {verification['wall_seconds']} s "
        f"wall = {rate} events/s (target > {VERIFY_TARGET}: "
        f"{'met' if rate and rate > VERIFY_TARGET else 'MISSED'}); own summary "
        f"{verification.get('events_per_second_own')} events/s"
    )
    written = seeded["written"]
    notes.insert(
        0,
        f"seeded {written['cases']} cases, {written['tasks']} tasks, {written['events']} trail "
        f"events by cloning {len(seeded['templates'])} service-made template cases with COPY in "
        f"{seed_seconds:.0f} s (tree {seeded['timings']['tree']:.0f} s, templates "
        f"{seeded['timings']['templates']:.0f} s, clone {seeded['timings']['clone']:.0f} s, "
        f"VACUUM ANALYZE {seeded['timings']['vacuum_analyze']:.0f} s)",
    )
    return {
        "section": "scale",
        "columns": [
            "read",
            "rows",
            "API p50 ms",
            "API p95 ms",
            "API queries",
            "selector p50 ms",
            "selector p95 ms",
        ],
        "rows": rows,
        "notes": notes,
        "data": data,
    }
