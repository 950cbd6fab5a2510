"""The access-control matrix: every REST endpoint under /api/v1/ × every method its view
allows × one representative demo user per role (and an anonymous client) × an object inside
and one outside the caller's reach → the status the caller must get.

The world (built once per module, through the API and the services, as the people who act):
in each of the two towns — 东湖镇 (applicant worker1 of 东湖机械厂) and 西山镇 (worker4 of
西山食品厂) — the same set of objects:

  H    hardship (festival), waiting at the grassroots review; its task is `tN` (NEW, the chair
       may take it); an attachment `A` uploaded by the applicant
  H2   hardship (emergency), past the grassroots review; one investigation task `tA` claimed
       by the town's aid officer (town_aid1 / xs_aid1)
  M    mediation at the mediation step (mediator1 / xs_mediator assigned)
  MS   mediation whose agreement is recorded, waiting for signatures
  MD   mediation declined at acceptance (it has a written notice)
  R    remittance declared by the treasurer, waiting for the chair
  rec  a recusal request on M (made inside the test, by the applicant)
  U    the grassroots union (东湖机械厂 / 西山食品厂), for the reports' `organization`

For a role of a town, "inside" is its own town's object and "outside" the other town's. County
roles (and admin) reach both towns: they get the 东湖 object only. Personal objects
(notifications, delegations, import and export jobs) are "own" and "other's" instead.

Expected statuses are written from the rules (DESIGN.md, the services' docstrings), not from
what the code happens to answer:

  200/201/202  the operation succeeded (its own 2xx);
  400, 409     the permission check passed and the domain refused (a field, a state) — for a
               write these prove the caller got past "may I?" (e.g. a member of the union
               objecting to an application that is not on public notice gets 409);
  F = 403      in reach (or a role-level refusal that is the same for every object), but not
               allowed to act;
  N = 404      missing or outside the caller's reach: never 403, which would reveal that the
               object exists — every "outside" cell is also requested with an id that does
               not exist, and must answer exactly the same;
  U = 401      anonymous;
  -            not applicable (e.g. a member has no export jobs of their own).

Every cell is its own test, in a savepoint of the module's transaction, so a write in one
cell (a withdrawal, a claim) never spoils the next."""

import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from organizations.demo import (
    DEMO_PASSWORD,
    DONGHU,
    DONGHU_MACHINERY,
    XISHAN,
    XISHAN_FOOD,
    seed_demo,
)
from organizations.models import User
from tests.conftest import Demo, celery_broker

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n"
MISSING = 99_999_999  # an id no object has (and that fits every integer column)

# --- the roles (columns of the tables) ------------------------------------------------------

# column label → (username, home town: "dh", "xs" or None for the whole county)
ROLES = {
    "worker1": ("worker1", "dh"),
    "chair1": ("chair1", "dh"),
    "treas1": ("treasurer1", "dh"),
    "t_aid1": ("town_aid1", "dh"),
    "t_fin": ("town_finance", "dh"),
    "m_head": ("med_head", "dh"),
    "medi1": ("mediator1", "dh"),
    "t_aud": ("town_auditor", "dh"),
    "c_aud": ("county_auditor", None),
    "c_aid": ("county_aid", None),
    "admin": ("admin", None),
    "anon": (None, None),
    "worker4": ("worker4", "xs"),
    "chair3": ("chair3", "xs"),
    "xs_aid1": ("xs_aid1", "xs"),
    "xs_mh": ("xs_med_head", "xs"),
    "xs_med": ("xs_mediator", "xs"),
}
AUDITORS = ("t_aud", "c_aud")

TOWNS = {
    "dh": {
        "town": DONGHU,
        "union": DONGHU_MACHINERY,
        "worker": "worker1",
        "chair": "chair1",
        "treasurer": "treasurer1",
        "aid": "town_aid1",
        "aid2": "town_aid2",
        "head": "med_head",
        "mediator": "mediator1",
        "seq": 11,
    },
    "xs": {
        "town": XISHAN,
        "union": XISHAN_FOOD,
        "worker": "worker4",
        "chair": "chair3",
        "treasurer": "treasurer3",
        "aid": "xs_aid1",
        "aid2": "xs_aid2",
        "head": "xs_med_head",
        "mediator": "xs_mediator",
        "seq": 41,
    },
}
OTHER = {"dh": "xs", "xs": "dh"}

# A colleague holding the same officer role within reach: whom each user may delegate to.
COLLEAGUE = {
    "town_aid1": "town_aid2",
    "xs_aid1": "xs_aid2",
    "mediator1": "mediator2",
    "county_aid": "town_aid1",
    "town_finance": "county_finance",
    "town_auditor": "county_auditor",
    "county_auditor": "town_auditor",
}


# --- the world ----------------------------------------------------------------------------------


_CLIENTS = {}


def _client(user=None):
    """A token-authenticated client per user, kept for the module: a new client loads the
    middleware again (WhiteNoise scans the static files), which would dominate the run."""
    key = user.pk if user is not None else None
    if key not in _CLIENTS:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        _CLIENTS[key] = client
    return _CLIENTS[key]


def _ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.content[:500])
    return response.json()


def _ric(seq):
    from tests.hardship.helpers import ric_number

    return ric_number(seq)


def _hardship(worker, seq, **overrides):
    body = {
        "aid_type": "festival",
        "id_number": _ric(seq),
        "household_size": 3,
        "annual_income": "24000.00",
        "rigid_expenses": "6000.00",
        "requested_amount": "800.00",
        "reason": "下岗，配偶患病。",
        **overrides,
    }
    return _ok(_client(worker).post("/api/v1/hardship-applications/", body, format="json"), 201)


def _mediation_body(town_org):
    from tests.mediation.helpers import CREDIT_CODE, ID_NUMBER

    return {
        "organization": town_org.pk,
        "channel": "written",
        "applicant_name": "申请人",
        "applicant_id_number": ID_NUMBER,
        "applicant_phone": "13800138000",
        "employer_name": "某机械厂",
        "employer_credit_code": CREDIT_CODE,
        "category": "pay",
        "claim_amount": "8600.00",
        "facts": "拖欠工资。",
        "known_on": (timezone.localdate() - timedelta(days=30)).isoformat(),
    }


def _open_task(case_id, step, status=None):
    from approvals.models import CaseTask

    qs = CaseTask.objects.filter(
        case_id=case_id, flow_task_type="HUMAN", flow_task__endswith=f".{step}"
    ).filter(status__in=[status] if status else ("NEW", "ASSIGNED", "STARTED"))
    return qs.order_by("pk").first()


def _complete(user, task, decision, **body):
    url = f"/api/v1/tasks/{task.pk}/complete/"
    return _ok(_client(user).post(url, {"decision": decision, **body}, format="json"))


def _build_town(demo, key):
    t = TOWNS[key]
    u = {role: demo.user(name) for role, name in t.items() if role not in ("town", "union", "seq")}
    town, union = demo.org(t["town"]), demo.org(t["union"])
    objects = {"town_org": town.pk, "U": union.pk}

    # H: waiting at the grassroots review, with an attachment of the applicant.
    h = _hardship(u["worker"], t["seq"])
    objects["H"] = h["id"]
    objects["tN"] = _open_task(h["id"], "grassroots_review").pk
    upload = SimpleUploadedFile("id.pdf", PDF, content_type="application/pdf")
    attachment = _client(u["worker"]).post(
        f"/api/v1/cases/{h['id']}/attachments/", {"file": upload, "kind": "id_card"}
    )
    objects["A"] = _ok(attachment, 201)["id"]

    # H2: at the investigation, one of its two slots claimed by the town's aid officer.
    h2 = _hardship(
        u["worker"],
        t["seq"],
        aid_type="emergency",
        household_size=2,
        annual_income="36000.00",
        rigid_expenses="0.00",
        requested_amount="3000.00",
    )
    objects["H2"] = h2["id"]
    _complete(u["chair"], _open_task(h2["id"], "grassroots_review"), "approve")
    task = _open_task(h2["id"], "investigation", "NEW")
    _ok(_client(u["aid"]).post(f"/api/v1/tasks/{task.pk}/claim/"))
    objects["tA"] = task.pk

    # M: being mediated; MS: agreement recorded, waiting for signatures; MD: declined.
    def file():
        body = _mediation_body(town)
        return _ok(_client(u["worker"]).post("/api/v1/mediation-cases/", body, format="json"), 201)

    def accept_and_assign(case_id):
        _complete(u["head"], _open_task(case_id, "acceptance"), "approve")
        _complete(
            u["head"],
            _open_task(case_id, "assignment"),
            "submit",
            data={"mediator": t["mediator"]},
        )

    objects["M"] = file()["id"]
    accept_and_assign(objects["M"])
    objects["MS"] = file()["id"]
    accept_and_assign(objects["MS"])
    session = {"date": _today(), "attendees": ["申请人", "被申请人"], "notes": "双方陈述。"}
    url = f"/api/v1/mediation-cases/{objects['MS']}/sessions/"
    _ok(_client(u["mediator"]).post(url, session, format="json"), 201)
    _complete(
        u["mediator"],
        _open_task(objects["MS"], "mediation"),
        "submit",
        data={
            "outcome": "agreement",
            "terms": "支付拖欠工资。",
            "amount": "8000.00",
            "performance_deadline": (timezone.localdate() + timedelta(days=20)).isoformat(),
            "performance_method": "银行转账",
        },
    )
    objects["MD"] = file()["id"]
    _complete(
        u["head"],
        _open_task(objects["MD"], "acceptance"),
        "reject",
        comment="不属于劳动争议。",
        data={"decline_reason": "not_labor_dispute"},
    )

    # R: a month declared by the treasurer, waiting for the chair.
    period = (timezone.localdate().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    declaration = {"period": period, "payroll_total": "100000.00", "headcount": 120}
    declaration["member_count"] = 100
    response = _client(u["treasurer"]).post("/api/v1/fee-remittances/", declaration, format="json")
    objects["R"] = _ok(response, 201)["id"]
    return objects


@dataclass
class World:
    objects: dict  # town key → {object name → id}
    users: dict  # column label → User or None

    def town_of(self, label):
        return ROLES[label][1]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The world, built once inside a transaction rolled back after the module; every test
    runs in a savepoint within it."""
    from reports.services import verify_all_trails

    media = tmp_path_factory.mktemp("media")
    with (
        django_db_blocker.unblock(),
        override_settings(MEDIA_ROOT=str(media)),
        celery_broker("memory://"),
    ):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            seed_demo()
            demo = Demo()
            objects = {key: _build_town(demo, key) for key in TOWNS}
            # Someone else's personal objects, for the "other's" cells.
            from approvals.models import Delegation
            from cases.remittance.imports import start as start_import

            start = timezone.now() + timedelta(days=30)
            objects["other_delegation"] = Delegation.objects.create(
                delegator=demo.mediator2,
                delegate=demo.mediator1,
                starts_at=start,
                ends_at=start + timedelta(days=3),
            ).pk
            objects["other_import"] = start_import(user=demo.xs_finance, upload=_csv()).pk
            objects["other_export"] = _export_for(demo.xs_finance, done=True)
            objects["other_notification"] = _notification_for(demo.worker2)
            verify_all_trails(record=True)
            users = {label: demo.user(name) if name else None for label, (name, _) in ROLES.items()}
            for user in users.values():
                _client(user)  # tokens made now, not in a test's rolled-back savepoint
            yield World(objects=objects, users=users)
        finally:
            _CLIENTS.clear()  # their tokens go with the rolled-back transaction
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _csv():
    content = "工会,期间,工资总额,职工人数,会员人数\n东湖机械厂工会,2026-01,100000,120,100\n"
    return SimpleUploadedFile("declarations.csv", content.encode(), content_type="text/csv")


def _export_for(user, *, done):
    from reports import services

    job = services.start_export(user=user, kind="summary", fmt="csv", params={})
    if done:
        services.run_export(job.pk)
    return job.pk


def _notification_for(user):
    from notifications.services import notify

    notify(
        event=f"matrix:{user.pk}:{timezone.now().timestamp()}",
        recipients=[user],
        verb="matrix",
        title="A notification",
    )
    return user.notifications.order_by("-pk").first().pk


# --- what each request sends ----------------------------------------------------------------


@dataclass
class Ctx:
    """What a request is built from: the caller, the objects of the town the request is about
    (the target's town; for a collection, the caller's own) and the target's ids."""

    user: object
    town: str
    objects: dict
    ids: dict

    @property
    def t(self):
        return TOWNS[self.town]

    @property
    def id(self):
        return self.ids.get("id")


def _today():
    return timezone.localdate().isoformat()


def _month(back):
    """YYYY-MM of the month `back` months before this one."""
    day = timezone.localdate().replace(day=1)
    for _ in range(back):
        day = (day - timedelta(days=1)).replace(day=1)
    return day.strftime("%Y-%m")


def _pdf_upload(ctx):
    return {
        "file": SimpleUploadedFile("proof.pdf", PDF, content_type="application/pdf"),
        "kind": "income_proof",
    }


def _token_body(ctx):
    if ctx.user is None:  # anonymous: the endpoint is public; wrong credentials are a 400
        return {"username": "worker1", "password": "wrong"}
    return {"username": ctx.user.username, "password": DEMO_PASSWORD}


def _delegation_body(ctx):
    now = timezone.now()
    delegate = COLLEAGUE.get(getattr(ctx.user, "username", ""), "town_aid2")
    return {
        "delegate": delegate,
        "starts_at": (now + timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=5)).isoformat(),
    }


def _hardship_body(ctx):
    seq = 500 + (ctx.user.pk if ctx.user else 0)
    return {
        "aid_type": "medical",
        "id_number": _ric(seq),
        "household_size": 3,
        "annual_income": "24000.00",
        "rigid_expenses": "6000.00",
        "requested_amount": "800.00",
        "reason": "大病住院。",
    }


@dataclass(frozen=True)
class Spec:
    """How to call an endpoint: a body (JSON unless `multipart`) and query parameters, each a
    dict or a function of the Ctx."""

    body: object = None
    query: object = None
    multipart: bool = False


def _org_query(ctx):
    return {"organization": ctx.id}


def _figure_query(ctx):
    # With a figure, `organization` is the report's scope (404 outside reach); without one it
    # is only a filter of the case list, like GET /api/v1/cases/?organization=.
    return {"figure": "opened", "organization": ctx.id}


SPECS = {
    "POST /api/v1/auth/token/": Spec(body=_token_body),
    "PATCH /api/v1/me/": Spec(body={"language": "zh-hans"}),
    "POST /api/v1/cases/{id}/withdraw/": Spec(body={"reason": "不再需要。"}),
    "POST /api/v1/cases/{id}/attachments/": Spec(body=_pdf_upload, multipart=True),
    "POST /api/v1/cases/{id}/objections/": Spec(body={"reason": "申请人家庭情况不实。"}),
    "POST /api/v1/hardship-applications/": Spec(body=_hardship_body),
    "POST /api/v1/mediation-cases/": Spec(body=lambda ctx: _mediation_body(_org(ctx.t["town"]))),
    "POST /api/v1/mediation-cases/{id}/sessions/": Spec(
        body=lambda ctx: {"date": _today(), "attendees": ["申请人", "被申请人"], "notes": "陈述。"}
    ),
    "POST /api/v1/mediation-cases/{id}/signatures/": Spec(body={"party": "worker"}),
    "POST /api/v1/mediation-cases/{id}/agreement/withdraw/": Spec(
        body={"reason": "被申请人拒绝签字。"}
    ),
    "POST /api/v1/mediation-cases/{id}/extensions/": Spec(
        body={"worker_consent": True, "employer_consent": True, "days": 10}
    ),
    "POST /api/v1/mediation-cases/{id}/recusals/": Spec(
        body={"party": "worker", "reason": "调解员与被申请人有利害关系。"}
    ),
    "POST /api/v1/mediation-cases/{id}/recusals/{rid}/decide/": Spec(
        body={"decision": "refuse", "comment": "理由不成立。"}
    ),
    "POST /api/v1/fee-remittances/": Spec(
        body=lambda ctx: {
            "organization": ctx.id,
            "period": _month(2),
            "payroll_total": "50000.00",
            "headcount": 60,
            "member_count": 50,
        }
    ),
    "GET /api/v1/fee-remittances/overview/": Spec(query=lambda ctx: {"period": _month(1)}),
    "GET /api/v1/fee-remittances/member-dues/": Spec(query={"wage": "5000"}),
    "POST /api/v1/fee-remittances/imports/": Spec(
        body=lambda ctx: {"file": _csv()}, multipart=True
    ),
    "POST /api/v1/tasks/{id}/complete/": Spec(body={"decision": "approve"}),
    "POST /api/v1/tasks/{id}/transfer/": Spec(body=lambda ctx: {"to": ctx.t["aid2"]}),
    "POST /api/v1/tasks/{id}/add-approver/": Spec(
        body={"user": "county_aid", "position": "parallel"}
    ),
    "POST /api/v1/tasks/{id}/send-back/": Spec(
        body={"to_step": "applicant", "comment": "请补充收入证明。"}
    ),
    "POST /api/v1/tasks/{id}/urge/": Spec(body={"comment": "请尽快处理。"}),
    "POST /api/v1/tasks/{id}/cc/": Spec(body={"users": ["county_auditor"]}),
    "POST /api/v1/delegations/": Spec(body=_delegation_body),
    "GET /api/v1/reports/summary/": Spec(query=_org_query),
    "GET /api/v1/reports/summary.xlsx": Spec(query=_org_query),
    "GET /api/v1/reports/summary.csv": Spec(query=_org_query),
    "GET /api/v1/reports/cases/": Spec(query=_figure_query),
    "GET /api/v1/reports/cases.xlsx": Spec(query=_figure_query),
    "GET /api/v1/reports/cases.csv": Spec(query=_figure_query),
    "GET /api/v1/reports/yearly.pdf": Spec(query=_org_query),
    "POST /api/v1/reports/exports/": Spec(
        body=lambda ctx: {
            "kind": "summary",
            "format": "csv",
            "params": {"organization": str(ctx.id)},
        }
    ),
    "POST /api/v1/sample-cases/": Spec(body={"title": "样例", "amount": "10.00"}),
}


def _org(name):
    from organizations.models import Organization

    return Organization.objects.get(name=name)


# --- the targets: which object a cell is about ----------------------------------------------

# Objects of a town (built with the world): target name → the placeholder it fills.
TOWN_TARGETS = {"H", "H2", "M", "MS", "MD", "R", "tN", "tA", "A", "U"}
# Personal objects: the caller's own (made in the test, when the caller can have one) and
# someone else's (made with the world).
PERSONAL_TARGETS = {"notification", "delegation", "import", "export", "export_file"}


def _recusal(world, town):
    """A pending recusal request on the town's case in mediation, asked by its applicant."""
    from cases.mediation import services

    case_id = world.objects[town]["M"]
    worker = User.objects.get(username=TOWNS[town]["worker"])
    recusal = services.request_recusal(
        case_id=case_id, user=worker, party="worker", reason="调解员与被申请人有利害关系。"
    )
    return {"id": case_id, "rid": recusal.pk}


def _own(target, user):
    from approvals.services import create_delegation
    from cases.remittance.imports import start as start_import

    if target == "notification":
        return _notification_for(user)
    if target == "delegation":
        now = timezone.now()
        delegation = create_delegation(
            user=user,
            delegate=COLLEAGUE[user.username],
            starts_at=now + timedelta(days=1),
            ends_at=now + timedelta(days=5),
        )
        return delegation.pk
    if target == "import":
        return start_import(user=user, upload=_csv()).pk
    return _export_for(user, done=target == "export_file")


OTHERS = {
    "notification": "other_notification",
    "delegation": "other_delegation",
    "import": "other_import",
    "export": "other_export",
    "export_file": "other_export",
}


def resolve(world, target, label, side):
    """(town the request is about, placeholder ids) for a cell. `side` is "inside"/"outside"
    for town objects, "own"/"other's" for personal ones, None for collections."""
    home = ROLES[label][1] or "dh"
    if target is None:
        return home, {}
    if target in PERSONAL_TARGETS:
        if side == "own":
            return home, {"id": _own(target, world.users[label])}
        return home, {"id": world.objects[OTHERS[target]]}
    town = home if side == "inside" else OTHER[home]
    if target == "rec":
        return town, _recusal(world, town)
    return town, {"id": world.objects[town][target]}


# --- the matrix ---------------------------------------------------------------------------------
#
# One line per endpoint × method × target. Cells: "inside/outside" (or "own/other's" for
# personal objects); a single value where there is one object (county-wide roles and the
# anonymous client get the 东湖 object) or none (collections). See the module docstring for
# 200/400/409/F/N/U/-.

MATRIX = """
METHOD PATH                                              TARGET  | worker1 chair1 treas1 t_aid1 t_fin  m_head medi1  t_aud  | c_aud c_aid admin anon | worker4 chair3 xs_aid1 xs_mh  xs_med

# --- auth, people, organizations (collections)
POST /api/v1/auth/token/                                 -       | 200     200    200    200    200    200    200    200    | 200   200   200   400  | 200     200    200     200    200
GET  /api/v1/me/                                         -       | 200     200    200    200    200    200    200    200    | 200   200   200   U    | 200     200    200     200    200
PATCH /api/v1/me/                                        -       | 200     200    200    200    200    200    200    200    | 200   200   200   U    | 200     200    200     200    200
GET  /api/v1/organizations/                              -       | 200     200    200    200    200    200    200    200    | 200   200   200   U    | 200     200    200     200    200

# --- cases: read in reach; only the applicant withdraws
GET  /api/v1/cases/                                      -       | 200     200    200    200    200    200    200    200    | 200   200   200   U    | 200     200    200     200    200
GET  /api/v1/cases/{id}/                                 H       | 200/N   200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | 200/N   200/N  200/N   200/N  200/N
GET  /api/v1/cases/{id}/                                 M       | 200/N   N/N    N/N    200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | 200/N   N/N    200/N   200/N  200/N
GET  /api/v1/cases/{id}/                                 R       | N/N     200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | N/N     200/N  200/N   200/N  200/N
GET  /api/v1/cases/{id}/trail/                           H       | 200/N   200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | 200/N   200/N  200/N   200/N  200/N
GET  /api/v1/cases/{id}/trail/verify/                    H       | 200/N   200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | 200/N   200/N  200/N   200/N  200/N
POST /api/v1/cases/{id}/withdraw/                        H       | 200/N   F/N    F/N    F/N    F/N    F/N    F/N    F/N    | F     F     F     U    | 200/N   F/N    F/N     F/N    F/N

# --- attachments: listed and downloaded in reach; added by the applicant and acting officers
GET  /api/v1/cases/{id}/attachments/                     H       | 200/N   200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | 200/N   200/N  200/N   200/N  200/N
POST /api/v1/cases/{id}/attachments/                     H2      | 201/N   201/N  F/N    201/N  F/N    F/N    F/N    F/N    | F     F     F     U    | 201/N   201/N  201/N   F/N    F/N
GET  /api/v1/attachments/{id}/download/                  A       | 200/N   200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | 200/N   200/N  200/N   200/N  200/N

# --- hardship: members apply and object (409: not on public notice — the check passed)
POST /api/v1/hardship-applications/                      -       | 201     201    F      F      F      F      F      F      | F     F     F     U    | 201     F      F       F      F
POST /api/v1/cases/{id}/objections/                      H       | F/N     409/N  F/N    F/N    F/N    F/N    F/N    F/N    | F     F     F     U    | F/N     F/N    F/N     F/N    F/N
GET  /api/v1/hardship-notices/                           -       | 200     200    200    200    200    200    200    200    | 200   200   200   U    | 200     200    200     200    200
GET  /api/v1/hardship-register/                          -       | 200     200    200    200    200    200    200    200    | 200   200   200   U    | 200     200    200     200    200

# --- mediation: at the town (the grassroots chair and treasurer do not reach it)
POST /api/v1/mediation-cases/                            -       | 201     201    F      F      F      F      201    F      | F     F     F     U    | 201     F      F       F      201
POST /api/v1/mediation-cases/{id}/sessions/              M       | F/N     N/N    N/N    F/N    F/N    F/N    201/N  F/N    | F     F     F     U    | F/N     N/N    F/N     F/N    201/N
POST /api/v1/mediation-cases/{id}/signatures/            MS      | F/N     N/N    N/N    F/N    F/N    F/N    201/N  F/N    | F     F     F     U    | F/N     N/N    F/N     F/N    201/N
# withdrawing the agreement awaiting signatures: the case's mediator only (not the head)
POST /api/v1/mediation-cases/{id}/agreement/withdraw/    MS      | F/N     N/N    N/N    F/N    F/N    F/N    200/N  F/N    | F     F     F     U    | F/N     N/N    F/N     F/N    200/N
POST /api/v1/mediation-cases/{id}/extensions/            M       | F/N     N/N    N/N    F/N    F/N    201/N  201/N  F/N    | F     F     F     U    | F/N     N/N    F/N     201/N  201/N
GET  /api/v1/mediation-cases/{id}/recusals/              M       | 200/N   N/N    N/N    200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | 200/N   N/N    200/N   200/N  200/N
POST /api/v1/mediation-cases/{id}/recusals/              M       | 201/N   N/N    N/N    F/N    F/N    201/N  201/N  F/N    | F     F     F     U    | 201/N   N/N    F/N     201/N  201/N
POST /api/v1/mediation-cases/{id}/recusals/{rid}/decide/ rec     | F/N     N/N    N/N    F/N    F/N    200/N  F/N    F/N    | F     F     F     U    | F/N     N/N    F/N     200/N  F/N
GET  /api/v1/mediation-cases/{id}/notice.pdf             MD      | 200/N   N/N    N/N    200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | 200/N   N/N    200/N   200/N  200/N
GET  /api/v1/mediation-cases/{id}/agreement.pdf          MS      | 200/N   N/N    N/N    200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | 200/N   N/N    200/N   200/N  200/N

# --- remittance: the treasurer declares (another town's union is "no such organization", 400
# as for an id that does not exist); finance officers import; the overview is for officers
POST /api/v1/fee-remittances/                            U       | F/400   F/400  201/400 F/400 F/400  F/400  F/400  F/400  | F     F     F     U    | F/400   F/400  F/400   F/400  F/400
GET  /api/v1/fee-remittances/overview/                   -       | F       200    200    200    200    200    200    200    | 200   200   200   U    | F       200    200     200    200
GET  /api/v1/fee-remittances/member-dues/                -       | 200     200    200    200    200    200    200    200    | 200   200   200   U    | 200     200    200     200    200
POST /api/v1/fee-remittances/imports/                    -       | F       F      F      F      202    F      F      F      | F     F     F     U    | F       F      F       F      F
GET  /api/v1/fee-remittances/imports/{id}/               import  | -/N     -/N    -/N    -/N    200/N  -/N    -/N    -/N    | -/N   -/N   -/N   U    | -/N     -/N    -/N     -/N    -/N

# --- tasks: tN is NEW (the chair may take it), tA is claimed by the town's aid officer
GET  /api/v1/tasks/                                      -       | 200     200    200    200    200    200    200    200    | 200   200   200   U    | 200     200    200     200    200
GET  /api/v1/tasks/{id}/                                 tN      | 200/N   200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | 200/N   200/N  200/N   200/N  200/N
POST /api/v1/tasks/{id}/claim/                           tN      | F/N     200/N  F/N    F/N    F/N    F/N    F/N    F/N    | F     F     F     U    | F/N     200/N  F/N     F/N    F/N
POST /api/v1/tasks/{id}/complete/                        tN      | F/N     200/N  F/N    F/N    F/N    F/N    F/N    F/N    | F     F     F     U    | F/N     200/N  F/N     F/N    F/N
POST /api/v1/tasks/{id}/release/                         tA      | F/N     F/N    F/N    200/N  F/N    F/N    F/N    F/N    | F     F     F     U    | F/N     F/N    200/N   F/N    F/N
POST /api/v1/tasks/{id}/transfer/                        tA      | F/N     F/N    F/N    200/N  F/N    F/N    F/N    F/N    | F     F     F     U    | F/N     F/N    200/N   F/N    F/N
POST /api/v1/tasks/{id}/add-approver/                    tA      | F/N     F/N    F/N    200/N  F/N    F/N    F/N    F/N    | F     F     F     U    | F/N     F/N    200/N   F/N    F/N
POST /api/v1/tasks/{id}/send-back/                       tA      | F/N     F/N    F/N    200/N  F/N    F/N    F/N    F/N    | F     F     F     U    | F/N     F/N    200/N   F/N    F/N
POST /api/v1/tasks/{id}/cc/                              tA      | F/N     F/N    F/N    200/N  F/N    F/N    F/N    F/N    | F     F     F     U    | F/N     F/N    200/N   F/N    F/N
# urge: the applicant, or an officer above the task's level — never an auditor
POST /api/v1/tasks/{id}/urge/                            tN      | 200/N   F/N    F/N    200/N  200/N  200/N  200/N  F/N    | F     200   200   U    | 200/N   F/N    200/N   200/N  200/N
POST /api/v1/tasks/{id}/urge/                            tA      | 200/N   F/N    F/N    F/N    F/N    F/N    F/N    F/N    | F     200   200   U    | 200/N   F/N    F/N     F/N    F/N

# --- delegations: officers who hold tasks delegate them (400: no such colleague in reach)
GET  /api/v1/delegations/                                -       | 200     200    200    200    200    200    200    200    | 200   200   200   U    | 200     200    200     200    200
POST /api/v1/delegations/                                -       | F       400    400    201    201    400    201    F      | F     201   400   U    | F       400    201     400    400
POST /api/v1/delegations/{id}/revoke/                    delegation | -/N  -/N    -/N    200/N  200/N  -/N    200/N  -/N    | -/N   200/N -/N   U    | -/N     -/N    200/N   -/N    -/N

# --- notifications: one's own only
GET  /api/v1/notifications/                              -       | 200     200    200    200    200    200    200    200    | 200   200   200   U    | 200     200    200     200    200
GET  /api/v1/notifications/unread-count/                 -       | 200     200    200    200    200    200    200    200    | 200   200   200   U    | 200     200    200     200    200
POST /api/v1/notifications/read-all/                     -       | 200     200    200    200    200    200    200    200    | 200   200   200   U    | 200     200    200     200    200
POST /api/v1/notifications/{id}/read/                    notification | 200/N 200/N 200/N 200/N 200/N 200/N 200/N 200/N | 200/N 200/N 200/N U   | 200/N   200/N  200/N   200/N  200/N

# --- reports: officers and auditors, for an organization in reach (members: 403 for any id)
GET  /api/v1/reports/summary/                            U       | F/F     200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | F/F     200/N  200/N   200/N  200/N
GET  /api/v1/reports/summary.xlsx                        U       | F/F     200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | F/F     200/N  200/N   200/N  200/N
GET  /api/v1/reports/summary.csv                         U       | F/F     200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | F/F     200/N  200/N   200/N  200/N
GET  /api/v1/reports/cases/                              U       | F/F     200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | F/F     200/N  200/N   200/N  200/N
GET  /api/v1/reports/cases.xlsx                          U       | F/F     200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | F/F     200/N  200/N   200/N  200/N
GET  /api/v1/reports/cases.csv                           U       | F/F     200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | F/F     200/N  200/N   200/N  200/N
GET  /api/v1/reports/yearly.pdf                          U       | F/F     200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | F/F     200/N  200/N   200/N  200/N
GET  /api/v1/reports/cases/{id}/trail.pdf                H       | F/F     200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | F/F     200/N  200/N   200/N  200/N
GET  /api/v1/reports/cases/{id}/trail.csv                H       | F/F     200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200   200   200   U    | F/F     200/N  200/N   200/N  200/N
GET  /api/v1/reports/exports/                            -       | F       200    200    200    200    200    200    200    | 200   200   200   U    | F       200    200     200    200
POST /api/v1/reports/exports/                            U       | F/F     202/N  202/N  202/N  202/N  202/N  202/N  202/N  | 202   202   202   U    | F/F     202/N  202/N   202/N  202/N
GET  /api/v1/reports/exports/{id}/                       export  | -/N     200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200/N 200/N 200/N U    | -/N     200/N  200/N   200/N  200/N
GET  /api/v1/reports/exports/{id}/download/              export_file | -/N 200/N  200/N  200/N  200/N  200/N  200/N  200/N  | 200/N 200/N 200/N U    | -/N     200/N  200/N   200/N  200/N
GET  /api/v1/reports/trail-verification/                 -       | F       F      F      F      F      F      F      200    | 200   F     200   U    | F       F      F       F      F

# --- the test URLconf's sample process (tests/sample): members of a union apply
POST /api/v1/sample-cases/                               -       | 201     201    400    400    400    400    400    400    | 400   400   400   U    | 201     400    400     400    400
"""

SYMBOLS = {"F": 403, "N": 404, "U": 401}


@dataclass(frozen=True)
class Cell:
    method: str
    path: str
    target: str | None
    label: str
    side: str | None
    expected: int

    @property
    def endpoint(self):
        return f"{self.method} {self.path}"

    def __str__(self):
        where = f" {self.side}" if self.side else ""
        target = f" [{self.target}]" if self.target else ""
        return f"{self.endpoint}{target} {ROLES[self.label][0] or 'anonymous'}{where}"


def _status(token):
    return SYMBOLS[token] if token in SYMBOLS else int(token)


def parse_matrix(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    header, rows = lines[0], [line for line in lines[1:] if not line.startswith("#")]
    labels = [word for word in header.split("|", 1)[1].split() if word != "|"]
    assert labels == list(ROLES), labels
    cells = []
    for row in rows:
        method, path, target, *rest = row.split()
        tokens = [token for token in rest if token != "|"]
        assert len(tokens) == len(ROLES), f"{len(tokens)} cells in: {row}"
        target = None if target == "-" else target
        sides = ("own", "other's") if target in PERSONAL_TARGETS else ("inside", "outside")
        for label, token in zip(ROLES, tokens, strict=True):
            values = token.split("/")
            if target is None:
                assert len(values) == 1, f"a collection has one cell per role: {row}"
                cells.append(Cell(method, path, None, label, None, _status(token)))
                continue
            # Nothing is the anonymous client's own.
            mine = ("other's",) if label == "anon" and target in PERSONAL_TARGETS else sides
            for side, value in zip(mine, values, strict=False):
                if value != "-":
                    cells.append(Cell(method, path, target, label, side, _status(value)))
    return cells


CELLS = parse_matrix(MATRIX)


# --- calling an endpoint ---------------------------------------------------------------------


def call(world, cell, resolved=None, *, missing=False):
    town, ids = resolved or resolve(world, cell.target, cell.label, cell.side)
    if missing:
        ids = dict.fromkeys(ids, MISSING)
    ctx = Ctx(user=world.users[cell.label], town=town, objects=world.objects[town], ids=ids)
    spec = SPECS.get(cell.endpoint, Spec())
    url = cell.path.format(**ids)
    client = _client(ctx.user)
    query = spec.query(ctx) if callable(spec.query) else spec.query
    if cell.method == "GET":
        return client.get(url, query or {})
    body = spec.body(ctx) if callable(spec.body) else spec.body
    if query:
        url = f"{url}?{urlencode(query)}"
    send = getattr(client, cell.method.lower())
    return send(url, body or {}, format="multipart" if spec.multipart else "json")


def _explain(response):
    if response.get("Content-Type", "").startswith("application/json"):
        return response.content[:300].decode(errors="replace")
    return response.get("Content-Type", "")


def check(world, cell):
    resolved = resolve(world, cell.target, cell.label, cell.side)
    response = call(world, cell, resolved)
    assert response.status_code == cell.expected, (
        f"{cell}: expected {cell.expected}, got {response.status_code}: {_explain(response)}"
    )
    if cell.side in ("outside", "other's"):
        # Out of reach and not there at all must be indistinguishable.
        missing = call(world, cell, resolved, missing=True)
        assert missing.status_code == response.status_code, (
            f"{cell}: {response.status_code} for an object outside reach but "
            f"{missing.status_code} for one that does not exist"
        )


def _rows(cells):
    rows = {}
    for cell in cells:
        key = f"{cell.endpoint} [{cell.target}]" if cell.target else cell.endpoint
        rows.setdefault(key, []).append(cell)
    return rows


ROWS = _rows(CELLS)


@pytest.mark.parametrize("row", list(ROWS))
def test_access(world, db, subtests, row):
    """One line of the matrix. Each cell is a subtest (reported as e.g. "GET
    /api/v1/cases/{id}/ [H] town_auditor outside") run in its own savepoint, rolled back after
    it, so that no write spoils the next cell. (One test per line rather than per cell: the
    after-test check of every trail then runs once per line, not 1,700 times.)"""
    for cell in ROWS[row]:
        with subtests.test(msg=str(cell)), transaction.atomic():
            check(world, cell)
            transaction.set_rollback(True)


# --- every endpoint is in the matrix ------------------------------------------------------------

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def _walk(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def api_endpoints():
    """ "METHOD /path/" of every view under /api/v1/ in the URL resolver (the test URLconf: the
    project's URLs plus the sample process), for each method the view implements."""
    found = set()
    for route, callback in _walk(get_resolver().url_patterns):
        if not route.startswith("api/v1/"):
            continue
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        assert view is not None, f"/{route} is not a class-based view: add it to the matrix"
        path = "/" + re.sub(r"<(?:\w+:)?pk>", "{id}", route)
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view, method):
                found.add(f"{method.upper()} {path}")
    return found


def test_the_matrix_covers_every_endpoint_and_method():
    in_matrix = {cell.endpoint for cell in CELLS}
    endpoints = api_endpoints()
    assert len(endpoints) > 50  # the walk found the API at all
    assert not endpoints - in_matrix, f"endpoints missing from the matrix: {endpoints - in_matrix}"
    assert not in_matrix - endpoints, (
        f"rows for endpoints that do not exist: {in_matrix - endpoints}"
    )


def test_every_object_endpoint_is_tried_inside_and_outside_for_every_role():
    """An endpoint with an object in its path has, for each signed-in role, an outside (or
    other's) cell: the 404 rule is checked for everyone."""
    for endpoint in {cell.endpoint for cell in CELLS if "{" in cell.path}:
        for label in ROLES:
            if label == "anon":
                continue
            sides = {c.side for c in CELLS if c.endpoint == endpoint and c.label == label}
            if ROLES[label][1] is None and not sides & {"own", "other's"}:
                continue  # county-wide: there is no object outside their reach
            assert sides & {"outside", "other's"}, f"{endpoint} {label}: no outside cell"


# --- auditors never write -----------------------------------------------------------------------

# Unsafe methods an auditor may use because they change nothing of the casework — only the
# auditor's own session, inbox and report jobs.
AUDITOR_MAY = {
    "POST /api/v1/auth/token/": "obtaining one's own API token",
    "PATCH /api/v1/me/": "one's own choice of language",
    "POST /api/v1/notifications/read-all/": "read marks in one's own inbox",
    "POST /api/v1/notifications/{id}/read/": "a read mark in one's own inbox",
    "POST /api/v1/reports/exports/": "a report prepared in the background (reading)",
}


def _auditor_cells():
    targets = {}
    for cell in CELLS:
        targets.setdefault(cell.endpoint, cell.target)
    cells = []
    for endpoint in sorted(api_endpoints()):
        method, path = endpoint.split(" ", 1)
        if method not in UNSAFE or endpoint in AUDITOR_MAY:
            continue
        target = targets.get(endpoint)
        if target is None:
            sides = (None,)
        elif target in PERSONAL_TARGETS:
            sides = ("other's",)  # an auditor has nothing of their own to write to
        else:
            sides = ("inside", "outside")
        for label in AUDITORS:
            for side in sides:
                cells.append(Cell(method, path, target, label, side, 0))
    return cells


AUDITOR_ROWS = _rows(_auditor_cells())


@pytest.mark.parametrize("row", list(AUDITOR_ROWS))
def test_auditors_never_write(world, db, subtests, row):
    """Every unsafe endpoint, as each auditor, on an object inside and outside their reach,
    with the body that succeeds for the role the endpoint is for (see the 2xx cells of the
    matrix): never a 2xx. Independent of the table above, so that editing a cell cannot let an
    auditor write."""
    for cell in AUDITOR_ROWS[row]:
        with subtests.test(msg=str(cell)), transaction.atomic():
            response = call(world, cell)
            assert not 200 <= response.status_code < 300, (
                f"{cell}: an auditor got {response.status_code}: {_explain(response)}"
            )
            transaction.set_rollback(True)


# --- the web pages (lighter): reach and the auditors' read-only view ---------------------------

WEB_ROLES = ("worker1", "chair1", "t_aid1", "t_aud", "c_aud", "xs_aid1", "anon")
# page → (target, expected per role: "inside/outside" or one value; R = redirect to log in)
WEB = {
    "/cases/{id}/": ("H", "200/N 200/N 200/N 200/N 200 200/N R"),
    "/tasks/{id}/": ("tN", "200/N 200/N 200/N 200/N 200 200/N R"),
    "/attachments/{id}/download/": ("A", "200/N 200/N 200/N 200/N 200 200/N R"),
    "/reports/cases/{id}/trail.pdf": ("H", "F/F 200/N 200/N 200/N 200 200/N R"),
    "/reports/?organization={id}": ("U", "F/F 200/N 200/N 200/N 200 200/N R"),
}
_WEB_CLIENTS = {}


@pytest.fixture
def web(world, db):
    """web(label) → a logged-in browser client (sessions live in the test's transaction)."""
    from django.test import Client

    def get(label):
        if label not in _WEB_CLIENTS:
            client = Client()
            if world.users[label] is not None:
                client.force_login(world.users[label])
            _WEB_CLIENTS[label] = client
        return _WEB_CLIENTS[label]

    yield get
    _WEB_CLIENTS.clear()


@pytest.mark.parametrize("page", list(WEB))
def test_web_pages_within_reach(world, web, subtests, page):
    target, expected = WEB[page]
    for label, token in zip(WEB_ROLES, expected.split(), strict=True):
        for side, value in zip(("inside", "outside"), token.split("/"), strict=False):
            who = ROLES[label][0] or "anonymous"
            with subtests.test(msg=f"GET {page} {who} {side}"):
                _, ids = resolve(world, target, label, side)
                response = web(label).get(page.format(**ids))
                if value == "R":
                    assert response.status_code == 302
                    assert response["Location"].startswith("/accounts/login/")
                else:
                    assert response.status_code == _status(value), (who, side, page)


@pytest.mark.parametrize("label", AUDITORS)
def test_auditors_see_no_write_forms_and_cannot_post(world, web, label):
    """An auditor reads the case and its task page but is offered no form that changes
    anything, and a forged POST changes nothing: the page answers 403 with the refusal."""
    from approvals.models import CaseTask
    from cases.models import Case, TrailEvent

    client = web(label)
    objects = world.objects["dh"]
    case_page = client.get(f"/cases/{objects['H']}/")
    task_page = client.get(f"/tasks/{objects['tN']}/")
    assert case_page.status_code == task_page.status_code == 200
    for page in (case_page, task_page):
        html = page.content.decode()
        assert 'name="op"' not in html and "case-withdraw" not in html
        assert f"/cases/{objects['H']}/withdraw/" not in html

    events = TrailEvent.objects.count()
    for op in ("claim", "decide", "release", "urge", "cc", "transfer"):
        body = {"op": op, "decision": "approve", "users": "town_aid2", "to": "chair1"}
        response = client.post(f"/tasks/{objects['tN']}/", body)
        # The task page again, saying why, with the refusal's status.
        assert response.status_code == 403, (op, response.status_code)
        assert 'class="error"' in response.content.decode(), op
    response = client.post(f"/cases/{objects['H']}/withdraw/", {"reason": "审计员撤回"})
    assert response.status_code == 403 and 'class="error"' in response.content.decode()
    assert TrailEvent.objects.count() == events
    assert CaseTask.objects.get(pk=objects["tN"]).status == "NEW"
    assert Case.objects.get(pk=objects["H"]).status == "in_progress"


# --- lists never carry what lies outside reach ------------------------------------------------

LISTS = (
    "/api/v1/cases/?page_size=100",
    "/api/v1/tasks/?view=inbox",
    "/api/v1/tasks/?view=queue",
    "/api/v1/hardship-notices/",
    "/api/v1/hardship-register/",
    "/api/v1/notifications/",
)


def _case_ids(data):
    """Every case id a JSON answer mentions (a case object, or a `case` reference)."""
    found = set()
    if isinstance(data, dict):
        if "number" in data and "process" in data and "id" in data:
            found.add(data["id"])
        for value in data.values():
            found |= _case_ids(value)
    elif isinstance(data, list):
        for value in data:
            found |= _case_ids(value)
    return found


@pytest.mark.parametrize("label", [label for label, (_, home) in ROLES.items() if home])
def test_lists_show_nothing_outside_reach(world, db, subtests, label):
    outside = {
        world.objects[OTHER[ROLES[label][1]]][name] for name in ("H", "H2", "M", "MS", "MD", "R")
    }
    for url in LISTS:
        with subtests.test(msg=f"GET {url} {ROLES[label][0]}"):
            response = _client(world.users[label]).get(url)
            assert response.status_code == 200
            seen = _case_ids(response.json())
            assert not seen & outside
            if url.startswith("/api/v1/cases/"):  # the detector does find cases
                assert world.objects[ROLES[label][1]]["H"] in seen
