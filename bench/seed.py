"""Bulk seeder for the benchmarks: many cases, tasks and trails in little time.

Nothing here writes a case by hand. A few *template* cases are driven through the real
services (submission, decisions, payment, mediation sessions) into typical states — waiting
for the chair, under investigation, approved and paid, declined, … — and then each template is
*cloned* with PostgreSQL COPY: every row of the case (viewflow process and tasks, the approvals
task rows, the process record, the trail) is copied with new ids, moved to another union and
its officers, shifted in time, and its trail re-chained and re-sealed (`cases.trail`). So the
clones have exactly the shape the application itself produces, and their chains verify.

Rows are only ever inserted (COPY), so the trail's append-only trigger stays on, and foreign
keys are checked as usual (at each batch's commit: Django's constraints are deferred).
"""

import hashlib
import itertools
import json
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone

from approvals.models import CaseTask
from cases import trail
from cases.hardship.models import HardshipApplication
from cases.mediation.models import MediationCase
from cases.models import Case, CaseNumberCounter, TrailEvent
from cases.remittance.models import Remittance
from organizations.demo import DEMO_PASSWORD
from organizations.models import Membership, Organization, OrganizationKind, Role, User

SHANGHAI = ZoneInfo("Asia/Shanghai")
BENCH_PREFIX = "bench_"  # usernames of generated people


# --- the tree -------------------------------------------------------------------------------

TOWN_ROLES = [
    (Role.AID_OFFICER, 2),
    (Role.FINANCE_OFFICER, 1),
    (Role.MEDIATION_HEAD, 1),
    (Role.MEDIATOR, 2),
    (Role.AUDITOR, 1),
]


def ric(first17):
    """A resident ID number with its GB 11643 check character."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


class People:
    """Creates users with memberships in bulk (one password hash for all: they can log in
    with the demo password, and hashing a thousand passwords would take minutes)."""

    def __init__(self):
        self.password = make_password(DEMO_PASSWORD)
        self.users = []
        self.memberships = []  # (username, organization, role)

    def add(self, username, full_name, organization, *roles):
        self.users.append(
            User(
                username=username,
                full_name=full_name,
                password=self.password,
                email=f"{username}@bench.unionflow.local",
            )
        )
        for role in roles:
            self.memberships.append((username, organization, role))

    def save(self):
        User.objects.bulk_create(self.users, batch_size=2000, ignore_conflicts=True)
        ids = dict(
            User.objects.filter(username__in=[u.username for u in self.users]).values_list(
                "username", "pk"
            )
        )
        Membership.objects.bulk_create(
            [
                Membership(user_id=ids[name], organization=org, role=role)
                for name, org, role in self.memberships
            ],
            batch_size=5000,
            ignore_conflicts=True,
        )
        self.users, self.memberships = [], []


def add_members(organization, count, *, tag):
    """`count` plain members in a union (applicants of the clones); returns nothing."""
    people = People()
    for i in range(count):
        people.add(f"{BENCH_PREFIX}{tag}_m{i:03d}", f"会员{tag}{i:03d}", organization, Role.MEMBER)
    people.save()


def grow_tree(*, towns, unions, members_per_union=4):
    """Add `towns` towns under the county and `unions` grassroots unions spread over all towns
    (more under the two demo towns, so their officers are busy), each with its officers and a
    few members. Idempotent per name."""
    county = Organization.objects.get(kind=OrganizationKind.COUNTY, depth=1)
    existing = set(Organization.objects.values_list("name", flat=True))
    people = People()
    for t in range(towns):
        name = f"第{t + 1:02d}街道总工会"
        if name in existing:
            continue
        town = county.add_child(
            name=name, kind=OrganizationKind.TOWN, region_code=county.region_code
        )
        county.refresh_from_db()
        for role, n in TOWN_ROLES:
            for i in range(n):
                people.add(
                    f"{BENCH_PREFIX}t{t + 1:02d}_{role}{i + 1}", f"干部{t + 1}{role}{i}", town, role
                )
    people.save()
    all_towns = list(Organization.objects.filter(kind=OrganizationKind.TOWN).order_by("path"))
    demo_towns = [t for t in all_towns if not t.name.startswith("第")]
    # The demo towns take half of the unions between them.
    weights = [(len(all_towns) - len(demo_towns)) or 1 if t in demo_towns else 1 for t in all_towns]
    plan = random.Random(7).choices(all_towns, weights=weights, k=unions)
    counts = {t.pk: 0 for t in all_towns}
    for town in plan:
        counts[town.pk] += 1
    made = 0
    for town in all_towns:
        town.refresh_from_db()
        base = town.name.removesuffix("总工会")
        for u in range(counts[town.pk]):
            name = f"{base}第{u + 1:04d}号企业工会"
            if name in existing:
                continue
            union = town.add_child(
                name=name, kind=OrganizationKind.GRASSROOTS, region_code=town.region_code
            )
            town.refresh_from_db()
            tag = f"u{union.pk}"
            people.add(f"{BENCH_PREFIX}{tag}_chair", f"主席{union.pk}", union, Role.CHAIR)
            people.add(f"{BENCH_PREFIX}{tag}_treasurer", f"财务{union.pk}", union, Role.TREASURER)
            for i in range(members_per_union):
                people.add(f"{BENCH_PREFIX}{tag}_m{i}", f"会员{union.pk}-{i}", union, Role.MEMBER)
            made += 1
        if len(people.users) > 2000:
            people.save()
    people.save()
    return made


# --- templates: real cases driven through the services ---------------------------------------


@dataclass
class Template:
    key: str
    case_id: int
    open: bool
    weight: float
    rows: dict = field(default_factory=dict)  # table -> (columns, [row, ...])
    tasks: int = 0
    events: int = 0


def _user(name):
    return User.objects.get(username=name)


def _open(case, step):
    from approvals.models import OPEN_STATUSES

    return (
        CaseTask.objects.filter(
            case=case, status__in=OPEN_STATUSES, flow_task__endswith=f".{step}", kind="approval"
        )
        .order_by("pk")
        .first()
    )


def _decide(case, step, username, decision="approve", comment="", **data):
    from approvals import services

    task = _open(case, step)
    assert task is not None, f"{case.number}: no open {step}"
    return services.complete(
        task_id=task.pk, user=_user(username), decision=decision, comment=comment, data=data
    )


def _claim(case, step, username):
    from approvals import services

    return services.claim(task_id=_open(case, step).pk, user=_user(username))


class TemplateMaker:
    """Drives template cases through the demo tree (东湖机械厂工会 under 东湖镇): every state a
    clone can be in, as the services leave it."""

    def __init__(self):
        self.union = Organization.objects.get(name="东湖机械厂工会")
        # Fresh applicants and ID numbers each time (one open application per person).
        start = HardshipApplication.objects.count() + Case.objects.count()
        self.serial = itertools.count(start + 1)
        tag = f"tpl{start}"
        add_members(self.union, 30, tag=tag)
        self.applicants = iter(
            User.objects.filter(username__startswith=f"{BENCH_PREFIX}{tag}_m").order_by("username")
        )

    def hardship(self, *, aid_type="festival", amount="800.00"):
        from cases.hardship.api import ApplicationIn
        from cases.hardship.services import submit_application

        applicant = next(self.applicants)
        n = next(self.serial)
        body = ApplicationIn(
            data={
                "aid_type": aid_type,
                "id_number": ric(
                    f"110105{date(1970, 1, 1) + timedelta(days=n // 1000):%Y%m%d}{n % 1000:03d}"
                ),
                "household_size": 3,
                "annual_income": "24000.00",
                "rigid_expenses": "6000.00",
                "requested_amount": amount,
                "reason": "下岗失业，爱人患病，家庭生活困难。",
            }
        )
        body.is_valid(raise_exception=True)
        return submit_application(user=applicant, **body.validated_data)

    def investigate(self, case):
        for officer in ("town_aid1", "town_aid2"):
            _decide(
                case,
                "investigation",
                officer,
                visit_date=timezone.localdate().isoformat(),
                verified_income="24000.00",
                findings=f"入户走访（{officer}）：情况属实。",
            )

    def pay(self, case, payer):
        case.hardship.refresh_from_db()
        record = case.hardship
        _decide(
            case,
            "disbursement",
            payer,
            amount=str(record.approved_amount or record.requested_amount),
            paid_on=timezone.localdate().isoformat(),
            payment_reference=f"BANK-{case.pk:06d}",
            account_holder=case.applicant.full_name,
            account_number=f"622202{case.applicant_id:010d}",  # the applicant's own
        )

    def mediation(self):
        from cases.mediation.api import ApplicationSerializer
        from cases.mediation.services import submit_application

        applicant = next(self.applicants)
        body = ApplicationSerializer(
            data={
                "organization": self.union.get_parent().pk,
                "channel": "written",
                "applicant_name": applicant.full_name,
                "applicant_id_number": ric("11010519880303004"),
                "applicant_phone": "13800138000",
                "employer_name": "东湖机械厂",
                "employer_credit_code": "91330100MA2B3C4D5N",
                "category": "pay",
                "claim_amount": "8600.00",
                "facts": "近两个月工资未按时足额发放。",
                "known_on": (timezone.localdate() - timedelta(days=10)).isoformat(),
            }
        )
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        return submit_application(user=applicant, organization=values.pop("organization"), **values)

    def mediate(self, case):
        from cases.mediation.services import record_session

        _decide(case, "acceptance", "med_head")
        _decide(case, "assignment", "med_head", decision="submit", mediator="mediator1")
        record_session(
            case_id=case.pk,
            user=_user("mediator1"),
            date=timezone.localdate(),
            attendees=["申请人", "东湖机械厂 王经理"],
            notes="双方陈述，分歧较大。",
        )

    def remittance(self):
        """A declaration of the latest month 东湖机械厂 has not declared yet."""
        from cases.remittance.services import declare

        taken = set(
            Remittance.objects.filter(
                organization=self.union, supplements__isnull=True, voided=False
            ).values_list("period", flat=True)
        )
        period = timezone.localdate().replace(day=1)
        while period in taken:
            period = (period - timedelta(days=1)).replace(day=1)
        return declare(
            user=_user("treasurer1"),
            period=period.strftime("%Y-%m"),
            payroll_total=Decimal("100000.00"),
            headcount=120,
            member_count=100,
        )

    def pay_remittance(self, case):
        case.remittance.refresh_from_db()
        _decide(
            case,
            "payment",
            "treasurer1",
            decision="submit",
            paid_amount=str(case.remittance.upper_share),
            paid_on=timezone.localdate().isoformat(),
            bank_reference=f"JF-{case.pk:06d}",
        )

    def build(self, which=None):
        """The templates (key, case, open?, weight): weights say how common the state is among
        the clones — most cases are finished, about one in six is open."""
        made = []

        def keep(key, case, is_open, weight):
            made.append(Template(key, case.pk, is_open, weight))

        recipes = {
            # open
            "hardship_grassroots": (True, 3, lambda: self.hardship()),
            "hardship_grassroots_claimed": (True, 0, self._hardship_grassroots_claimed),
            "hardship_investigation": (True, 2, self._hardship_investigation),
            "hardship_town_claimed": (True, 2, self._hardship_town_claimed),
            "hardship_county": (True, 1, self._hardship_county),
            "hardship_county_claimed": (True, 1, self._hardship_county_claimed),
            "hardship_disbursement": (True, 1, self._hardship_disbursement),
            "mediation_acceptance": (True, 1, lambda: self.mediation()),
            "mediation_acceptance_claimed": (True, 0, self._mediation_acceptance_claimed),
            "mediation_mediating": (True, 1, self._mediation_mediating),
            "remittance_chair": (True, 2, self.remittance),
            "remittance_verification": (True, 2, self._remittance_verification),
            # finished
            "hardship_paid_town": (False, 18, self._hardship_paid_town),
            "hardship_paid_county": (False, 6, self._hardship_paid_county),
            "hardship_rejected_chair": (False, 6, self._hardship_rejected_chair),
            "hardship_rejected_town": (False, 4, self._hardship_rejected_town),
            "hardship_withdrawn": (False, 2, self._hardship_withdrawn),
            "mediation_declined": (False, 4, self._mediation_declined),
            "mediation_no_agreement": (False, 6, self._mediation_no_agreement),
            "remittance_verified": (False, 36, self._remittance_verified),
            "remittance_rejected": (False, 3, self._remittance_rejected),
        }
        for key, (is_open, weight, recipe) in recipes.items():
            if (key not in which) if which is not None else weight == 0:
                continue
            keep(key, recipe(), is_open, weight)
        return made

    def _hardship_grassroots_claimed(self):
        case = self.hardship()
        _claim(case, "grassroots_review", "chair1")
        return case

    def _mediation_acceptance_claimed(self):
        case = self.mediation()
        _claim(case, "acceptance", "med_head")
        return case

    def _hardship_investigation(self):
        case = self.hardship()
        _decide(case, "grassroots_review", "chair1")
        return case

    def _hardship_town_claimed(self):
        case = self._hardship_investigation()
        self.investigate(case)
        _claim(case, "town_review", "town_aid1")
        return case

    def _hardship_county(self):
        case = self.hardship(aid_type="emergency", amount="6000.00")
        _decide(case, "grassroots_review", "chair1")
        self.investigate(case)
        _decide(case, "town_review", "town_aid2")
        return case

    def _hardship_county_claimed(self):
        case = self._hardship_county()
        _claim(case, "county_approval", "county_aid")
        return case

    def _hardship_disbursement(self):
        case = self._hardship_investigation()
        self.investigate(case)
        _decide(case, "town_review", "town_aid1")
        return case

    def _hardship_paid_town(self):
        case = self._hardship_disbursement()
        self.pay(case, "town_finance")
        return case

    def _hardship_paid_county(self):
        case = self._hardship_county()
        _decide(case, "county_approval", "county_aid")
        self.pay(case, "county_finance")
        return case

    def _hardship_rejected_chair(self):
        case = self.hardship()
        _decide(case, "grassroots_review", "chair1", decision="reject", comment="收入超过标准。")
        return case

    def _hardship_rejected_town(self):
        case = self._hardship_investigation()
        self.investigate(case)
        _decide(case, "town_review", "town_aid1", decision="reject", comment="材料不实。")
        return case

    def _hardship_withdrawn(self):
        from approvals.services import withdraw

        case = self.hardship()
        withdraw(case_id=case.pk, user=case.applicant, reason="情况好转，不再申请。")
        return case

    def _mediation_mediating(self):
        case = self.mediation()
        self.mediate(case)
        return case

    def _mediation_declined(self):
        case = self.mediation()
        _decide(
            case,
            "acceptance",
            "med_head",
            decision="reject",
            comment="已申请仲裁。",
            decline_reason="in_arbitration_or_court",
        )
        return case

    def _mediation_no_agreement(self):
        case = self._mediation_mediating()
        _decide(case, "mediation", "mediator1", decision="submit", outcome="no_agreement")
        return case

    def _remittance_verification(self):
        case = self.remittance()
        _decide(case, "chair_approval", "chair1")
        self.pay_remittance(case)
        return case

    def _remittance_verified(self):
        case = self._remittance_verification()
        _decide(case, "verification", "town_finance")
        return case

    def _remittance_rejected(self):
        case = self.remittance()
        _decide(case, "chair_approval", "chair1", decision="reject", comment="工资总额有误。")
        return case


# --- snapshot and clone ---------------------------------------------------------------------


def _tables():
    """(name, model, key column, what it is keyed by) in the order rows are copied."""
    from viewflow.workflow.models import Process, Task

    return [
        ("process", Process, "id", "process"),
        ("case", Case, "id", "case"),
        ("hardship", HardshipApplication, "case_id", "case"),
        ("mediation", MediationCase, "case_id", "case"),
        ("remittance", Remittance, "case_id", "case"),
        ("task", Task, "process_id", "process"),
        ("casetask", CaseTask, "task_ptr_id", "task"),
        ("previous", Task.previous.through, "to_task_id", "task"),
        ("trail", TrailEvent, "case_id", "case"),
    ]


def _kind_of(model):
    from viewflow.workflow.models import Process, Task

    if model is Case:
        return "case"
    if model is Process:
        return "process"
    if model is not None and issubclass(model, Task):
        return "task"
    if model is Organization:
        return "org"
    if model is User:
        return "user"
    return None


def _own_ids():
    """Tables whose ids are allocated anew for each clone (the others reuse a parent's id)."""
    return {name for name, model, _k, _b in _tables() if not model._meta.pk.is_relation}


def _columns(model):
    """(column, op) for each column: how a clone gets its value."""
    out = []
    for f in model._meta.local_concrete_fields:
        if f.primary_key and not f.is_relation:
            op = ("own",)
        elif f.is_relation:
            op = ("ref", _kind_of(f.related_model))
        elif model is TrailEvent and f.column == "task_id":
            op = ("ref", "task")
        elif model is Case and f.column == "number":
            op = ("number",)
        elif model is CaseTask and f.column == "batch":
            op = ("batch",)
        elif isinstance(f, models.DateTimeField):
            op = ("shift",)
        elif isinstance(f, models.DateField):
            op = ("shift_date",)
        else:
            op = ("keep",)
        out.append((f.column, op))
    return out


def _select(table, columns, key, ids):
    with connection.cursor() as cursor:
        cols = ", ".join(f'"{c}"' for c in columns)
        cursor.execute(f'SELECT {cols} FROM "{table}" WHERE "{key}" = ANY(%s) ORDER BY 1', [ids])
        return [list(r) for r in cursor.fetchall()]


def _text(value):
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, datetime | date):
        return value.isoformat()
    value = str(value)
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def _json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Shape:
    """A template case reduced to rows of COPY text and, per value a clone changes, the rule
    that makes it (`ops`: (position, kind, argument, original value)). Compiled once per
    template; cloning then copies each row and fills a few slots."""

    def __init__(self, template, org_slots, user_slots):
        self.template = template
        case = Case.objects.get(pk=template.case_id)
        self.prefix = case.number.split("-")[0]
        self.created_at = case.created_at
        ids = {"case": [case.pk], "process": [case.flow_process_id]}
        raw = {}
        index = {}  # (kind, old id) -> position among the case's rows of that table
        for name, model, key, keyed_by in _tables():
            columns = _columns(model)
            rows = _select(model._meta.db_table, [c for c, _ in columns], key, ids[keyed_by])
            if name == "task":
                ids["task"] = [r[0] for r in rows]
            if name in ("process", "case", "task"):
                pk = [c for c, _ in columns].index(model._meta.pk.column)
                for n, row in enumerate(rows):
                    index[(name, row[pk])] = n
            raw[name] = (model, columns, rows)
        self.counts = {name: len(rows) for name, (_m, _c, rows) in raw.items()}
        self.tasks = self.counts["task"]
        self.events = self.counts["trail"]
        self.period = None
        self.tables = []  # (name, db table, column names, [(text parts, ops)])
        for name, (model, columns, rows) in raw.items():
            names = [c for c, _ in columns]
            compiled = []
            for row in rows:
                ops = []
                for pos, (column, op) in enumerate(columns):
                    value = row[pos]
                    if op[0] == "own":
                        ops.append((pos, "own", None, value))
                    elif op[0] == "ref" and value is not None:
                        kind = op[1]
                        if (kind, value) in index:
                            ops.append((pos, "ref", (kind, index[(kind, value)]), value))
                        elif kind == "org" and value in org_slots:
                            ops.append((pos, "org", org_slots[value], value))
                        elif kind == "user" and value in user_slots:
                            ops.append((pos, "user", user_slots[value], value))
                        elif kind in ("case", "process", "task"):
                            raise ValueError(f"{name}.{column} points outside its case")
                    elif op[0] in ("number", "batch") or (op[0] != "keep" and value is not None):
                        ops.append((pos, op[0], value, value))
                if name == "remittance":
                    self.period = row[names.index("period")]
                compiled.append(([_text(v) for v in row], ops))
            self.tables.append((name, model._meta.db_table, names, compiled))
        self._compile_trail(raw["trail"])

    def _compile_trail(self, trail_raw):
        """The canonical JSON of each event (see `cases.trail.canonical`) as fixed pieces around
        what a clone changes — checked against the real function on the template's events."""
        model, columns, rows = trail_raw
        names = [c for c, _ in columns]
        self.trail_pos = {c: names.index(c) for c in ("prev_hash", "hash", "seal")}
        self.trail_events = []
        for row in rows:
            value = dict(zip(names, row, strict=True))
            data = value["data"]
            data = json.loads(data) if isinstance(data, str) else data
            ip = value["source_ip"]
            ip = None if ip is None else str(ip)
            fixed = (
                '{"action":' + _json(value["action"]),
                ',"actor_role":' + _json(value["actor_role"]) + ',"at":"',
                ',"comment":'
                + _json(value["comment"])
                + ',"data":'
                + _json(data)
                + ',"on_behalf_of":',
                ',"seq":'
                + _json(value["seq"])
                + ',"source_ip":'
                + _json(ip)
                + ',"step":'
                + _json(value["step"])
                + ',"task":',
            )
            originals = {
                names.index(c): value[c] for c in ("at", "actor_id", "on_behalf_of_id", "task_id")
            }
            self.trail_events.append((fixed, originals))
            event = TrailEvent(
                case_id=value["case_id"],
                seq=value["seq"],
                at=value["at"],
                actor_id=value["actor_id"],
                actor_role=value["actor_role"],
                on_behalf_of_id=value["on_behalf_of_id"],
                action=value["action"],
                task_id=value["task_id"],
                step=value["step"],
                comment=value["comment"],
                data=data,
                source_ip=ip,
            )
            mine = self.canonical(
                fixed,
                value["case_id"],
                value["at"],
                value["actor_id"],
                value["on_behalf_of_id"],
                value["task_id"],
            )
            assert mine == trail.canonical(event), (mine, trail.canonical(event))
        self.trail_cols = {c: names.index(c) for c in ("at", "actor_id", "on_behalf_of_id")}
        self.trail_cols["task_id"] = names.index("task_id")

    @staticmethod
    def canonical(fixed, case_id, at, actor, on_behalf_of, task):
        def num(v):
            return "null" if v is None else str(v)

        return (
            fixed[0]
            + ',"actor":'
            + num(actor)
            + fixed[1]
            + at.astimezone(UTC).isoformat(timespec="microseconds")
            + '","case":'
            + str(case_id)
            + fixed[2]
            + num(on_behalf_of)
            + fixed[3]
            + num(task)
            + "}"
        )


def _slots(template_union):
    """Template organizations and people as slots a clone fills with its own: the union (G),
    its town (T) and the county (C); a person by their role there (the n-th holder), a plain
    member as "an applicant"."""
    town = template_union.get_parent()
    county = town.get_parent()
    org_slots = {template_union.pk: "G", town.pk: "T", county.pk: "C"}
    user_slots = {}
    holders = {}
    for m in (
        Membership.objects.filter(organization__in=[template_union, town])
        .select_related("user")
        .order_by("user__username")
    ):
        holders.setdefault((m.organization_id, m.role), []).append(m.user_id)
    roles = {}
    for (org_id, role), users in holders.items():
        for n, user_id in enumerate(users):
            roles.setdefault(user_id, []).append((org_slots[org_id], role, n))
    for user_id, held in roles.items():
        officer = [h for h in held if h[1] != Role.MEMBER]
        user_slots[user_id] = officer[0] if officer else ("G", Role.MEMBER, None)
    return org_slots, user_slots


class Directory:
    """Who holds which role where, to fill a clone's slots for a target union."""

    def __init__(self):
        self.holders = {}
        self.members = {}
        officers = set(
            Membership.objects.exclude(role=Role.MEMBER).values_list("user_id", flat=True)
        )
        for org_id, role, user_id in Membership.objects.order_by("user__username").values_list(
            "organization_id", "role", "user__pk"
        ):
            self.holders.setdefault((org_id, role), []).append(user_id)
            if role == Role.MEMBER and user_id not in officers:
                self.members.setdefault(org_id, []).append(user_id)
        self.parent = {}
        self.county = None
        for org in Organization.objects.all():
            self.parent[org.pk] = None
            if org.depth == 1:
                self.county = org.pk
        by_path = {o.path: o.pk for o in Organization.objects.all()}
        for path, pk in by_path.items():
            if len(path) > 4:
                self.parent[pk] = by_path[path[:-4]]

    def context(self, union_id, rng):
        """(org slot -> id, user slot -> id resolver) for a clone in `union_id`."""
        orgs = {"G": union_id, "T": self.parent[union_id], "C": self.county}
        applicant = rng.choice(self.members[union_id])

        def user(slot):
            org, role, n = slot
            if role == Role.MEMBER:
                return applicant
            if org == "C":
                return None  # the county's officers are the county's: keep them
            holders = self.holders.get((orgs[org], role))
            return holders[n % len(holders)] if holders else None

        return orgs, user


class Cloner:
    """Copies template shapes into target unions in batches (the caller holds a transaction
    per batch)."""

    def __init__(self, shapes):
        self.shapes = shapes
        self.directory = Directory()
        self.counters = {(c.prefix, c.year): c.last for c in CaseNumberCounter.objects.all()}
        self.periods = set(
            Remittance.objects.filter(supplements__isnull=True, voided=False).values_list(
                "organization_id", "period"
            )
        )
        self.tables = {name: model._meta.db_table for name, model, _k, _b in _tables()}
        self.own_ids = _own_ids()
        self.stats = {}  # seconds spent building rows and copying each table

    def _reserve(self, cursor, table, n):
        if n == 0:
            return 0
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        seq = cursor.fetchone()[0]
        cursor.execute("SELECT nextval(%s)", [seq])
        first = cursor.fetchone()[0]
        cursor.execute("SELECT setval(%s, %s)", [seq, first + n - 1])
        return first

    def _number(self, prefix, created_at):
        year = created_at.astimezone(SHANGHAI).year
        last = self.counters.get((prefix, year), 0) + 1
        self.counters[(prefix, year)] = last
        return f"{prefix}-{year}-{last:06d}"

    def _period_delta(self, shape, union_id, rng, recent):
        """A month this union has not declared yet: the clone is shifted to it."""
        base = shape.period
        offset = 0 if recent else rng.randint(1, 36)
        while True:
            year, month = base.year, base.month - offset
            while month < 1:
                year, month = year - 1, month + 12
            period = date(year, month, 1)
            if (union_id, period) not in self.periods:
                self.periods.add((union_id, period))
                return timedelta(days=(period - base).days)
            offset += 1

    def clone(self, plan, *, seed=1):
        """`plan`: [(shape, union id)], written in the caller's transaction. Returns (cases,
        tasks, events) written."""
        batch = self.build(plan, seed=seed)
        self.write(batch)
        self.save_counters()  # in the batch's transaction: later submissions never reuse one
        return batch["counts"]

    def build(self, plan, *, seed=1):
        """The COPY text of the plan's clones, per table (ids are reserved here)."""
        rng = random.Random(seed)
        clock = time.monotonic()
        out = {name: [] for name in self.tables}
        totals = dict.fromkeys(self.tables, 0)
        for shape, _union in plan:
            for name, count in shape.counts.items():
                totals[name] += count
        with connection.cursor() as cursor:
            next_id = {
                name: self._reserve(cursor, self.tables[name], totals[name])
                for name in self.own_ids
            }
        for shape, union_id in plan:
            orgs, user_of = self.directory.context(union_id, rng)
            # Back in time (never forward: the templates were made a moment ago); open cases
            # recently, finished ones over two years; a declaration to a free month.
            if shape.period is not None:
                delta = self._period_delta(shape, union_id, rng, shape.template.open)
            elif shape.template.open:
                delta = -timedelta(seconds=rng.randint(0, 20 * 86400))
            else:
                delta = -timedelta(seconds=rng.randint(20 * 86400, 730 * 86400))
            day_delta = timedelta(days=delta.days)
            base = {name: next_id[name] for name in ("process", "case", "task")}
            case_id = base["case"]
            batches = {}
            users = {}
            trail_rows = []
            for name, _table, _columns, rows in shape.tables:
                target = out[name]
                for parts, ops in rows:
                    parts = parts.copy()
                    values = {}
                    for pos, kind, arg, value in ops:
                        if kind == "shift":
                            value = value + delta
                            parts[pos] = value.isoformat()
                        elif kind == "ref":
                            value = base[arg[0]] + arg[1]
                            parts[pos] = str(value)
                        elif kind == "own":
                            value = next_id[name]
                            next_id[name] += 1
                            parts[pos] = str(value)
                        elif kind == "user":
                            if arg not in users:
                                users[arg] = user_of(arg)
                            if users[arg] is not None:
                                value = users[arg]
                                parts[pos] = str(value)
                        elif kind == "org":
                            value = orgs[arg]
                            parts[pos] = str(value)
                        elif kind == "shift_date":
                            parts[pos] = (value + day_delta).isoformat()
                        elif kind == "batch":
                            if arg not in batches:
                                batches[arg] = str(uuid.uuid4())
                            parts[pos] = batches[arg]
                        elif kind == "number":
                            number_pos = pos
                        values[pos] = value
                    if name == "case":
                        created = values[_columns.index("created_at")]
                        parts[number_pos] = self._number(shape.prefix, created)
                    elif name == "trail":
                        trail_rows.append((parts, values))
                    target.append(parts)
            self._chain(shape, case_id, trail_rows)
        self.stats["build"] = self.stats.get("build", 0) + time.monotonic() - clock
        text = {}
        for name, table, columns, _rows in self.shapes[0].tables:
            rows = out[name]
            if rows:
                cols = ", ".join(f'"{c}"' for c in columns)
                text[f'COPY "{table}" ({cols}) FROM STDIN'] = [
                    "".join("\t".join(r) + "\n" for r in rows[start : start + 2000])
                    for start in range(0, len(rows), 2000)
                ]
        return {"copies": text, "counts": (len(plan), len(out["task"]), len(out["trail"]))}

    @staticmethod
    def write(batch):
        """COPY a built batch on this thread's connection (in the caller's transaction)."""
        with connection.cursor() as cursor:
            for statement, chunks in batch["copies"].items():
                with cursor.cursor.copy(statement) as copy:
                    for chunk in chunks:
                        copy.write(chunk)

    def _chain(self, shape, case_id, rows):
        """Re-hash and re-seal the clone's trail: its ids, times and people changed."""
        cols = shape.trail_cols
        prev_pos, hash_pos = shape.trail_pos["prev_hash"], shape.trail_pos["hash"]
        seal_pos = shape.trail_pos["seal"]
        prev = trail.GENESIS_HASH
        sha = hashlib.sha256
        for (parts, values), (fixed, originals) in zip(rows, shape.trail_events, strict=True):
            values = {**originals, **values}
            body = shape.canonical(
                fixed,
                case_id,
                values[cols["at"]],
                values[cols["actor_id"]],
                values[cols["on_behalf_of_id"]],
                values[cols["task_id"]],
            )
            parts[prev_pos] = prev
            prev = parts[hash_pos] = sha((prev + body).encode()).hexdigest()
            parts[seal_pos] = trail.seal(prev)

    def save_counters(self):
        for (prefix, year), last in self.counters.items():
            CaseNumberCounter.objects.update_or_create(
                prefix=prefix, year=year, defaults={"last": last}
            )


# --- the whole seeding ------------------------------------------------------------------------


def _tilt(weights, sizes, target):
    """Weights leaned toward small or large templates so that the mean size is `target`
    (exponential tilting, found by bisection); unchanged when the target is out of reach."""
    import math

    def mean(lam):
        w = [wi * math.exp(-lam * si) for wi, si in zip(weights, sizes, strict=True)]
        return sum(wi * si for wi, si in zip(w, sizes, strict=True)) / sum(w), w

    if not min(sizes) < target < max(sizes):
        return weights
    lo, hi = -5.0, 5.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if mean(mid)[0] > target:
            lo = mid
        else:
            hi = mid
    return mean((lo + hi) / 2)[1]


def build_shapes(keys=None):
    """Make the template cases (through the services) and compile them."""
    maker = TemplateMaker()
    templates = maker.build(keys)
    org_slots, user_slots = _slots(maker.union)
    return [Shape(t, org_slots, user_slots) for t in templates]


def vacuum_analyze(log=print):
    """What autovacuum does for a production database after a bulk load: fresh statistics, so
    that PostgreSQL plans the case's and the task's lookups by their indexes. The benchmark's
    server may run without autovacuum (CI's has `autovacuum = off`): with no statistics the
    separation-of-duties check scanned every finished task, 30-40 ms instead of 0.2 ms.
    Returns the seconds it took."""

    clock = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    seconds = time.monotonic() - clock
    log(f"VACUUM ANALYZE in {seconds:.1f} s")
    return seconds


def _secondary_indexes():
    """(name, definition) of the indexes of the cloned tables that back no constraint: built
    once after the copy instead of row by row during it, as PostgreSQL advises for a bulk load
    ("Populating a Database"). Primary keys and unique constraints stay, and are checked for
    every row; so do the foreign keys and the trail's append-only trigger. Partial indexes stay
    too: they take only some rows, and PostgreSQL would write some of their predicates back
    differently from the migrations'."""
    tables = [model._meta.db_table for _n, model, _k, _b in _tables()]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT index.relname, pg_get_indexdef(i.indexrelid)
              FROM pg_index i
              JOIN pg_class tbl ON tbl.oid = i.indrelid
              JOIN pg_class index ON index.oid = i.indexrelid
             WHERE tbl.relname = ANY(%s) AND NOT i.indisunique AND NOT i.indisprimary
               AND i.indpred IS NULL
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
             ORDER BY pg_relation_size(i.indrelid) DESC, index.relname
            """,
            [tables],
        )
        return cursor.fetchall()


def _drop(indexes):
    with transaction.atomic(), connection.cursor() as cursor:
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')


def _create(indexes, *, workers):
    """Rebuild the dropped indexes, `workers` at a time (one connection each), the largest
    tables first so that the builds end together."""
    todo = queue.SimpleQueue()
    for item in indexes:
        todo.put(item)
    failures = []

    def build():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET maintenance_work_mem = '256MB'")
                while True:
                    try:
                        _name, definition = todo.get_nowait()
                    except queue.Empty:
                        return
                    cursor.execute(definition)
        except Exception as exc:  # reported below, once every builder is done
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=build) for _ in range(max(1, workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def seed(*, cases, tasks, towns, unions, batch=2000, writers=2, log=print):
    """Grow the tree, make the templates and clone them into `cases` cases with about `tasks`
    tasks in all; then VACUUM ANALYZE. Returns counts and timings."""
    timings = {}
    clock = time.monotonic()
    made = grow_tree(towns=towns, unions=unions)
    timings["tree"] = time.monotonic() - clock
    log(f"tree: {made} unions added in {timings['tree']:.1f} s")

    clock = time.monotonic()
    shapes = build_shapes()
    timings["templates"] = time.monotonic() - clock
    log(f"templates: {len(shapes)} cases through the services in {timings['templates']:.1f} s")

    weights = _tilt([s.template.weight for s in shapes], [s.tasks for s in shapes], tasks / cases)
    targets = list(
        Organization.objects.filter(kind=OrganizationKind.GRASSROOTS).values_list("pk", flat=True)
    )
    cloner = Cloner(shapes)
    rng = random.Random(2026)
    clock = time.monotonic()
    written = {"cases": 0, "tasks": 0, "events": 0}
    batches = queue.Queue(maxsize=writers)
    failures = []

    def writer():
        # Each thread has its own connection: PostgreSQL ingests on both cores while this
        # process builds the next batch.
        try:
            while (item := batches.get()) is not None:
                if not failures:
                    with transaction.atomic():
                        Cloner.write(item)
        except Exception as exc:  # reported by the main thread
            failures.append(exc)
            while batches.get() is not None:
                pass
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, daemon=True) for _ in range(writers)]
    indexes = _secondary_indexes()
    timings["indexes_dropped"] = len(indexes)
    _drop(indexes)
    for thread in threads:
        thread.start()
    try:
        for start in range(0, cases, batch):
            if failures:
                break
            n = min(batch, cases - start)
            plan = list(
                zip(
                    rng.choices(shapes, weights=weights, k=n),
                    rng.choices(targets, k=n),
                    strict=True,
                )
            )
            built = cloner.build(plan, seed=start)
            batches.put(built)
            c, t, e = built["counts"]
            written["cases"] += c
            written["tasks"] += t
            written["events"] += e
            if (start // batch) % 10 == 9:
                log(f"  {written['cases']} cases built, {time.monotonic() - clock:.0f} s")
    finally:
        for _ in threads:
            batches.put(None)
        for thread in threads:
            thread.join()
        cloner.save_counters()
        copied = time.monotonic()
        _create(indexes, workers=writers)  # also after a failure: the schema stays whole
        timings["indexes"] = time.monotonic() - copied
    if failures:
        raise failures[0]
    timings["clone"] = time.monotonic() - clock
    log(
        f"cloned: {written['cases']} cases, {written['tasks']} tasks, {written['events']} "
        f"trail events in {timings['clone']:.1f} s, of which {timings['indexes']:.1f} s "
        f"rebuilding {len(indexes)} indexes"
    )
    timings["vacuum_analyze"] = vacuum_analyze(log)
    return {"written": written, "timings": timings, "templates": [s.template.key for s in shapes]}


def table_counts():
    """What the database holds now (cases, tasks, open human tasks, trail events)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT (SELECT count(*) FROM cases_case),
                   (SELECT count(*) FROM viewflow_task),
                   (SELECT count(*) FROM viewflow_task
                     WHERE flow_task_type = 'HUMAN' AND status IN ('NEW', 'ASSIGNED', 'STARTED')),
                   (SELECT count(*) FROM cases_trailevent),
                   (SELECT count(*) FROM organizations_organization),
                   (SELECT count(*) FROM organizations_user)
            """
        )
        row = cursor.fetchone()
    return dict(
        zip(
            ["cases", "tasks", "open_human_tasks", "trail_events", "organizations", "users"],
            row,
            strict=True,
        )
    )
