"""Engine throughput: N cases of each process completed end to end through the services (no
HTTP) — submit, then claim and complete every step as the people who take it, plus the
process's own operations (mediation sessions and signatures) — and, for each process, the
same number of cycles through a bare viewflow flow (bench.baseline), in blocks among its cases:
each process is compared with the baseline as the machine ran at the same minutes.

A transition is a viewflow task finished (start, each step's tasks, gateways, timers, end),
counted from the database after the run, for our flows and the baseline alike. An operation is
one service call (one transaction): a submission, a claim, a decision, a session, a signature;
the baseline's cycle is three (start, claim, decision)."""

import os
import time
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from datetime import date, timedelta
from decimal import Decimal

RATIO_TARGET = 1.5
OPERATIONS_NAMED = "start, claim, decision"


def _n(quick):
    return int(os.environ.get("BENCH_ENGINE_N") or (10 if quick else 100))


def _budget(quick):
    """Seconds each process may run: the section stays within its share of `make bench` on a
    slow machine, completing fewer than N cases (the table says how many)."""
    return float(os.environ.get("BENCH_ENGINE_SECONDS") or (10 if quick else 30))


def ric_number(seq, birth="19800101", region="110105"):
    """A valid resident ID number (GB 11643 check digit) for person `seq`."""
    from stdnum.cn import ric

    body = f"{region}{birth}{seq % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


class Driver:
    """Acts on a case's steps as the given people, through approvals.services, and counts the
    operations (service calls) it makes."""

    def __init__(self):
        from organizations.models import User

        self.users = {u.username: u for u in User.objects.all()}
        self.operations = 0

    def run(self, service, *args, **kwargs):
        """One operation: `service(*args, **kwargs)`, counted."""
        self.operations += 1
        return service(*args, **kwargs)

    def user(self, username):
        return self.users[username]

    def open_task(self, case, step):
        from approvals.models import OPEN_STATUSES, CaseTask

        return (
            CaseTask.objects.filter(
                case=case,
                flow_task_type="HUMAN",
                status__in=OPEN_STATUSES,
                flow_task__endswith=f".{step}",
            )
            .order_by("position", "pk")
            .first()
        )

    def decide(self, case, step, username, decision="approve", data=None, comment=""):
        """Claim the step's open task (when offered by role) and complete it."""
        from viewflow.workflow.status import STATUS

        from approvals import services

        user = self.user(username)
        task = self.open_task(case, step)
        if task is None:
            raise RuntimeError(f"{case.number}: no open task {step}")
        if task.status == STATUS.NEW:
            self.run(services.claim, task_id=task.pk, user=user)
        self.run(
            services.complete,
            task_id=task.pk,
            user=user,
            decision=decision,
            comment=comment,
            data=data or {},
        )


# --- the three processes, each along its common path ------------------------------------------


def submit_festival_aid(worker, id_number):
    """A festival aid application of 800 (household of three, income 24,000) by `worker`."""
    from cases.hardship import services

    return services.submit_application(
        user=worker,
        aid_type="festival",
        id_number=id_number,
        household_size=3,
        annual_income=Decimal("24000.00"),
        rigid_expenses=Decimal("6000.00"),
        requested_amount=Decimal("800.00"),
        reason="Laid off; spouse ill.",
    )


def hardship_case(driver, i):
    """Festival aid of 800: grassroots review → two home visits → town review (no notice, no
    county approval) → disbursement."""
    worker = ("worker1", "worker2")[i % 2]
    case = driver.run(submit_festival_aid, driver.user(worker), ric_number(1 + i % 2))
    today = date.today().isoformat()
    driver.decide(case, "grassroots_review", "chair1")
    for officer in ("town_aid1", "town_aid2"):
        driver.decide(
            case,
            "investigation",
            officer,
            data={"visit_date": today, "verified_income": "24000.00", "findings": "Visited."},
        )
    driver.decide(case, "town_review", "town_aid1")
    driver.decide(
        case,
        "disbursement",
        "town_finance",
        data={
            "amount": "800.00",
            "paid_on": today,
            "payment_reference": f"BANK-{i:06d}",
            # Into the applicant's own account (实名制): one account per worker.
            "account_holder": driver.user(worker).full_name,
            "account_number": f"622202{1 + i % 2:010d}",
        },
    )
    return case


def submit_mediation(
    worker,
    *,
    applicant_name,
    applicant_id_number,
    applicant_phone,
    claim_amount,
    known_days_ago,
):
    """A written application for unpaid wages from a worker of 东湖机械厂 to 东湖镇's
    mediation committee."""
    from django.utils import timezone

    from cases.mediation import services
    from organizations.demo import DONGHU
    from organizations.models import Organization

    return services.submit_application(
        user=worker,
        organization=Organization.objects.get(name=DONGHU),
        channel="written",
        applicant_name=applicant_name,
        applicant_id_number=applicant_id_number,
        applicant_phone=applicant_phone,
        employer_name="东湖机械厂",
        employer_credit_code="91330100MA2B3C4D5N",
        category="pay",
        claim_amount=claim_amount,
        facts="拖欠工资。",
        known_on=timezone.localdate() - timedelta(days=known_days_ago),
        worker_count=1,
        representatives=[],
    )


def mediation_case(driver, i):
    """Acceptance → assignment → a session → agreement → three signatures and the seal →
    performance followed up."""
    from django.utils import timezone

    from cases.mediation import services

    case = driver.run(
        submit_mediation,
        driver.user("worker1"),
        applicant_name="杨工人",
        applicant_id_number="110105199003071239",
        applicant_phone="13800138000",
        claim_amount=Decimal("8600.00"),
        known_days_ago=30,
    )
    driver.decide(case, "acceptance", "med_head")
    driver.decide(case, "assignment", "med_head", "submit", data={"mediator": "mediator1"})
    mediator = driver.user("mediator1")
    driver.run(
        services.record_session,
        case_id=case.pk,
        user=mediator,
        date=timezone.localdate(),
        attendees=["杨工人", "东湖机械厂 王经理"],
        notes="双方陈述。",
    )
    deadline = (timezone.localdate() + timedelta(days=30)).isoformat()
    driver.decide(
        case,
        "mediation",
        "mediator1",
        "submit",
        data={
            "outcome": "agreement",
            "terms": "被申请人向申请人支付拖欠工资。",
            "amount": "8000.00",
            "performance_deadline": deadline,
            "performance_method": "银行转账",
        },
    )
    for party in ("worker", "employer", "mediator"):
        driver.run(services.record_signature, case_id=case.pk, user=mediator, party=party)
    driver.run(
        services.record_signature, case_id=case.pk, user=driver.user("med_head"), party="seal"
    )
    driver.decide(case, "performance", "mediator1", "submit", data={"performance": "performed"})
    return case


REMITTANCE_UNIONS = (("treasurer1", "chair1"), ("treasurer2", "chair2"), ("treasurer3", "chair3"))
TOWN_FINANCE = {"treasurer1": "town_finance", "treasurer2": "town_finance"}


def remittance_period(i):
    """Distinct (union, month) per case: months from 2005-01 on (bench.queries uses 2015 on)."""
    month = i // len(REMITTANCE_UNIONS)
    return f"{2005 + month // 12}-{month % 12 + 1:02d}"


def remittance_case(driver, i):
    """Declaration → chair's approval → payment recorded → receipt verified."""
    from cases.remittance import services

    treasurer, chair = REMITTANCE_UNIONS[i % len(REMITTANCE_UNIONS)]
    case = driver.run(
        services.declare,
        user=driver.user(treasurer),
        period=remittance_period(i),
        payroll_total="100000.00",
        headcount=120,
        member_count=100,
    )
    driver.decide(case, "chair_approval", chair)
    driver.decide(
        case,
        "payment",
        treasurer,
        "submit",
        data={
            "paid_amount": "800.00",
            "paid_on": date.today().isoformat(),
            "bank_reference": f"ICBC-{i:06d}",
        },
    )
    driver.decide(case, "verification", TOWN_FINANCE.get(treasurer, "xs_finance"))
    return case


PROCESSES = {
    "hardship": hardship_case,
    "mediation": mediation_case,
    "remittance": remittance_case,
}


def finished_tasks(process_ids):
    from viewflow.workflow.models import Task

    return Task.objects.filter(process_id__in=process_ids, finished__isnull=False).count()


class Clock:
    """Seconds spent in the cases, and statistics kept fresh as autovacuum would, untimed.

    A production database analyzes a table after 50 rows + 10 % of it have changed (the
    autovacuum defaults); the benchmark's server may run with autovacuum off (CI's does).
    Without statistics PostgreSQL guesses that `status = 'DONE'` picks a few tasks and, for the
    separation-of-duties check, scans every finished task, a cost that grows with the run."""

    EVERY = 10  # cases between two ANALYZE runs

    def __init__(self, budget, *, analyzing=True):
        self.budget = budget
        self.analyzing = analyzing
        self.seconds = 0.0
        self.count = 0

    def time(self, make, *args):
        started = time.perf_counter()
        result = make(*args)
        self.seconds += time.perf_counter() - started
        self.count += 1
        if self.analyzing and self.count % self.EVERY == 0:
            analyze()
        return result

    @property
    def over(self):
        return self.seconds > self.budget


def analyze():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# Cases and baseline cycles alternate in blocks of this many: the machine's speed wanders by a
# third within minutes, so each process is compared with baseline cycles run among its cases.
BLOCK = 10


@contextmanager
def bare_viewflow():
    """Inside: viewflow's Task without the project's trail capture listening (the baseline is
    viewflow alone)."""
    from django.db.models.signals import post_init, post_save
    from viewflow.workflow.models import Task

    from cases import signals

    post_init.disconnect(sender=Task, dispatch_uid="trail-init-Task")
    post_save.disconnect(sender=Task, dispatch_uid="trail-save-Task")
    try:
        yield
    finally:
        signals.connect()


def run_process(name, n, driver, budget):
    """N cases of the process, and N baseline cycles in blocks among them; for each, a Figures."""
    from bench.baseline import flows
    from cases.models import Case

    make = PROCESSES[name]
    user = driver.user("chair1")
    make(driver, n)  # warm-up (imports, caches), not timed nor counted
    with bare_viewflow():
        flows.cycle(user)
    analyze()
    # One ANALYZE per block, by the process's clock: it covers the baseline's tables too.
    clock, baseline_clock = Clock(budget), Clock(budget, analyzing=False)
    ids, baseline_ids = [], []
    operations_before = driver.operations
    for block in range(0, n, BLOCK):
        with bare_viewflow():
            for _ in range(block, min(block + BLOCK, n)):
                baseline_ids.append(baseline_clock.time(flows.cycle, user).pk)
        for i in range(block, min(block + BLOCK, n)):
            ids.append(clock.time(make, driver, i).pk)
        if clock.over:
            break
    cases = Case.objects.filter(pk__in=ids)
    unfinished = cases.exclude(status__in=("approved", "closed")).count()
    if unfinished:
        raise RuntimeError(f"{name}: {unfinished} cases did not finish")
    transitions = finished_tasks(cases.values_list("flow_process_id", flat=True))
    return (
        Figures(len(ids), clock.seconds, transitions, driver.operations - operations_before),
        Figures(
            len(baseline_ids),
            baseline_clock.seconds,
            finished_tasks(baseline_ids),
            len(baseline_ids) * flows.OPERATIONS_PER_CYCLE,
        ),
    )


@dataclass
class Figures:
    cases: int
    seconds: float
    transitions: int
    operations: int

    def __add__(self, other):
        return Figures(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    @property
    def ms_per_transition(self):
        return self.seconds * 1000 / self.transitions

    @property
    def ms_per_operation(self):
        return self.seconds * 1000 / self.operations


def run(env):
    n = _n(env["quick"])
    if n >= 360:
        raise ValueError("BENCH_ENGINE_N: below 360 (remittance periods 2005–2014 × 3 unions)")
    budget = _budget(env["quick"])
    driver = Driver()
    measured = {name: run_process(name, n, driver, budget) for name in PROCESSES}
    baseline = sum((b for _p, b in measured.values()), start=Figures(0, 0.0, 0, 0))

    rows = []
    data = {"n": n, "budget_seconds": budget, "ratio_target": RATIO_TARGET, "processes": {}}
    figures = {"baseline (bare viewflow)": (baseline, baseline)} | {
        name: measured[name] for name in PROCESSES
    }
    for name, (f, base) in figures.items():
        ratio = f.ms_per_transition / base.ms_per_transition
        ratio_per_operation = f.ms_per_operation / base.ms_per_operation
        rows.append(
            [
                name,
                f.cases,
                round(f.transitions / f.cases, 1),
                round(f.operations / f.cases, 1),
                round(f.seconds, 2),
                round(f.cases / f.seconds, 1),
                round(f.transitions / f.seconds, 1),
                round(f.ms_per_transition, 2),
                "" if f is base else round(base.ms_per_transition, 2),
                round(ratio, 2),
                round(f.ms_per_operation, 2),
                round(ratio_per_operation, 2),
            ]
        )
        data["processes"][name] = {
            "cases": f.cases,
            "transitions": f.transitions,
            "operations": f.operations,
            "seconds": round(f.seconds, 3),
            "cases_per_s": round(f.cases / f.seconds, 2),
            "transitions_per_s": round(f.transitions / f.seconds, 2),
            "ms_per_transition": round(f.ms_per_transition, 3),
            "baseline_ms_per_transition": None if f is base else round(base.ms_per_transition, 3),
            "ratio_to_baseline": round(ratio, 3),
            "ms_per_operation": round(f.ms_per_operation, 3),
            "ratio_to_baseline_per_operation": round(ratio_per_operation, 3),
        }
    worst = max(v["ratio_to_baseline"] for k, v in data["processes"].items() if k in PROCESSES)
    data["worst_ratio"] = worst
    data["target_met"] = worst <= RATIO_TARGET
    return {
        "section": "engine",
        "columns": [
            "process",
            "cases",
            "tasks/case",
            "ops/case",
            "seconds",
            "cases/s",
            "transitions/s",
            "ms/transition",
            "baseline ms",
            "× baseline",
            "ms/op",
            "× per op",
        ],
        "rows": rows,
        "notes": [
            "through the services, no HTTP; one transaction per operation; outbox rows "
            "written, not delivered",
            f"{n} cases per process, or fewer when a process reaches {budget:.0f} s; as many "
            f"baseline cycles, in blocks of {BLOCK} among each process's cases",
            "transition = a viewflow task finished (start, steps, gateways, end), "
            "counted in the database; op = one service call, one transaction (the baseline's "
            f"cycle: {OPERATIONS_NAMED})",
            f"target: ≤ {RATIO_TARGET}× the ms per transition of the baseline cycles run among "
            "the process's cases (baseline ms) — "
            f"worst {worst:.2f}×: {'met' if worst <= RATIO_TARGET else 'NOT met'}",
        ],
        "data": data,
    }
