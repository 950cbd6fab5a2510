"""Queries per operation, counted with Django's CaptureQueriesContext: the writes through the
services, and the reads through the selectors and the API (django's test client with a
token, so authentication and serialization count too).

Lists are measured for a user with one row and for one with many (100; quick: 20) on a single
page: their counts must be equal — a list costs the same number of queries for 1 row or 100."""

from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

_last = {}


def _count(func):
    with CaptureQueriesContext(connection) as ctx:
        result = func()
    _last["sql"] = [q["sql"][:200] for q in ctx.captured_queries]
    return len(ctx.captured_queries), result


def period(i):
    """Distinct months from 2015-01 on (bench.engine uses 2005–2014)."""
    return f"{2015 + i // 12}-{i % 12 + 1:02d}"


def declare(user, i):
    from cases.remittance import services

    return services.declare(
        user=user,
        period=period(i),
        payroll_total="100000.00",
        headcount=120,
        member_count=100,
    )


def run(env):
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from approvals import selectors
    from approvals import services as approvals
    from approvals.models import CaseTask
    from bench.engine import (
        Driver,
        hardship_case,
        mediation_case,
        ric_number,
        submit_festival_aid,
        submit_mediation,
    )

    many = 20 if env["quick"] else 100
    driver = Driver()
    user = driver.user
    rows, data, notes = [], {"many": many, "operations": {}}, []

    def record(operation, queries, *, rows_1=None, rows_many=None, queries_many=None):
        constant = None if queries_many is None else queries_many == queries
        rows.append(
            [
                operation,
                queries,
                queries_many if queries_many is not None else "",
                "" if constant is None else ("yes" if constant else "NO"),
            ]
        )
        data["operations"][operation] = {
            "queries": queries,
            **(
                {"queries_many": queries_many, "constant": constant} if constant is not None else {}
            ),
            **({"rows_1": rows_1, "rows_many": rows_many} if rows_1 is not None else {}),
        }

    # --- writes, through the services ------------------------------------------------------
    hardship_case(driver, 0)  # warm-up: imports and first-use caches stay out of the counts
    q, case = _count(lambda: submit_festival_aid(user("worker3"), ric_number(3)))
    record("submit hardship (service)", q)
    hardship_case_id = case.pk
    mediation_case(driver, 0)
    q, case = _count(
        lambda: submit_mediation(
            user("worker2"),
            applicant_name="朱工人",
            applicant_id_number="330106198506124569",
            applicant_phone="13800138001",
            claim_amount=Decimal("5000.00"),
            known_days_ago=10,
        )
    )
    record("submit mediation (service)", q)
    mediation_case_id = case.pk
    declare(user("treasurer2"), 0)  # warm-up
    q, case = _count(lambda: declare(user("treasurer2"), 1))
    record("submit remittance (service)", q)
    task = driver.open_task(case, "chair_approval")
    q, _ = _count(lambda: approvals.claim(task_id=task.pk, user=user("chair2")))
    record("claim (service)", q)
    q, _ = _count(
        lambda: approvals.complete(task_id=task.pk, user=user("chair2"), decision="approve")
    )
    record("complete: approve (service)", q)
    withdrawn = declare(user("treasurer2"), 2)
    q, _ = _count(
        lambda: approvals.withdraw(case_id=withdrawn.pk, user=user("treasurer2"), reason="Typo.")
    )
    record("withdraw (service)", q)

    # --- lists: chair1 holds `many` tasks, chair3 one -----------------------------------------
    for i in range(many):
        case = declare(user("treasurer1"), i)
        approvals.claim(task_id=driver.open_task(case, "chair_approval").pk, user=user("chair1"))
    one = declare(user("treasurer3"), 0)
    approvals.claim(task_id=driver.open_task(one, "chair_approval").pk, user=user("chair3"))

    def inbox_rows(username):
        return len(list(selectors.inbox(user(username)).order_by("created", "pk")))

    counts = {name: _count(lambda name=name: inbox_rows(name)) for name in ("chair3", "chair1")}
    record(
        "inbox (selector)",
        counts["chair3"][0],
        queries_many=counts["chair1"][0],
        rows_1=counts["chair3"][1],
        rows_many=counts["chair1"][1],
    )

    clients = {}

    def client(username):
        if username not in clients:
            token, _ = Token.objects.get_or_create(user=user(username))
            clients[username] = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
        return clients[username]

    def get(username, url):
        response = client(username).get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} as {username}: {response.status_code}")
        body = response.json()
        return len(body["results"]) if "results" in body else 1

    def api_list(operation, url, one_user, many_user):
        get(one_user, url)  # warm-up
        get(many_user, url)
        q1, n1 = _count(lambda: get(one_user, url))
        sql_1 = _last["sql"]
        qn, nn = _count(lambda: get(many_user, url))
        record(operation, q1, queries_many=qn, rows_1=n1, rows_many=nn)
        if q1 != qn:  # what to look at
            data["operations"][operation].update(sql_1=sql_1, sql_many=_last["sql"])

    page = f"page_size={min(many, 100)}"
    api_list(
        "GET /api/v1/tasks/?view=inbox", f"/api/v1/tasks/?view=inbox&{page}", "chair3", "chair1"
    )
    # The treasurers' own declarations: 1 (treasurer3) against `many` (treasurer1).
    api_list(
        "GET /api/v1/cases/ (remittance)",
        f"/api/v1/cases/?process=remittance&status=in_progress&{page}",
        "treasurer3",
        "treasurer1",
    )

    # --- one case ------------------------------------------------------------------------------
    details = [
        ("hardship", hardship_case_id, "worker3"),
        ("mediation", mediation_case_id, "worker2"),
        ("remittance", one.pk, "treasurer3"),
    ]
    for process, case_id, username in details:
        get(username, f"/api/v1/cases/{case_id}/")
        q, _ = _count(
            lambda case_id=case_id, username=username: get(username, f"/api/v1/cases/{case_id}/")
        )
        record(f"GET /api/v1/cases/{{id}}/ ({process})", q)
    done = CaseTask.objects.filter(case__process="hardship", case__status="approved").first()
    url = f"/api/v1/cases/{done.case_id}/trail/"
    get("town_aid1", url)
    q, events = _count(lambda: get("town_aid1", url))
    record(f"GET /api/v1/cases/{{id}}/trail/ ({events} events)", q)

    lists = [k for k, v in data["operations"].items() if "constant" in v]
    grown = [k for k in lists if not data["operations"][k]["constant"]]
    data["lists_constant"] = not grown
    notes.append(
        f"lists measured with 1 row and with {many} rows on one page: "
        + ("constant" if not grown else f"NOT constant: {', '.join(grown)}")
    )
    notes.append("API counts include token authentication; writes run through the services")
    return {
        "section": "queries",
        "columns": ["operation", "queries (1 row)", f"queries ({many} rows)", "constant"],
        "rows": rows,
        "notes": notes,
        "data": data,
    }
