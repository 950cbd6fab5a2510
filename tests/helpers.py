import threading
from decimal import Decimal

from django.db import connection

from cases.services import submit_case


def submit_sample(applicant, *, title="Sample", amount="100.00"):
    from organizations.selectors import member_union

    return submit_case(
        process="sample",
        organization=member_union(applicant),
        applicant=applicant,
        submitted_by=applicant,
        title=title,
        amount=Decimal(amount),
    )


def open_task(case):
    return case.tasks.filter(flow_task_type="HUMAN", finished__isnull=True).get()


def submit(process, applicant, *, amount="100.00", title="Test case"):
    from organizations.selectors import member_union

    return submit_case(
        process=process,
        organization=member_union(applicant),
        applicant=applicant,
        submitted_by=applicant,
        title=title,
        amount=Decimal(amount),
    )


def open_tasks(case, step=None):
    qs = case.tasks.filter(flow_task_type="HUMAN", status__in=("NEW", "ASSIGNED", "STARTED"))
    if step:
        qs = qs.filter(flow_task__endswith=f".{step}")
    return list(qs.order_by("position", "pk"))


def post(client, url, body=None):
    return client.post(url, body or {}, format="json")


def complete(client, task, decision="approve", **body):
    return post(client, f"/api/v1/tasks/{task.pk}/complete/", {"decision": decision, **body})


def actions(case):
    return list(case.trail.order_by("seq").values_list("action", flat=True))


def settings_under(env, expression):
    """`expression` (Python, over `settings` and `caches`) evaluated in a fresh process whose
    project settings read `env` on top of this one's environment; its value, through JSON."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import django, json; django.setup(); from django.conf import settings; "
        f"from django.core.cache import caches; print(json.dumps({expression}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings", **env},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def race(calls):
    """Run each call in its own thread (its own database connection), all released at once;
    returns their results in order. A call that raises (a 500 surfaces as an exception in the
    test client) fails the test, naming the exception."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as exc:  # noqa: BLE001  (reported to the test, not swallowed)
            results[index] = exc
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a request hung"
    crashed = [r for r in results if isinstance(r, Exception)]
    assert not crashed, f"requests failed with exceptions: {crashed!r}"
    return results
