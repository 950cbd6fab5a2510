"""The figures of the reports, counted in the database.

Every figure is defined once, as a condition on cases (`figure_q`): the summary counts the
cases matching it (aggregates with `filter=`), and the list "behind" a figure selects the same
cases, so a number on the dashboard and the list it links to always agree.

The summary costs a fixed number of queries however many cases there are (eight), each over
only the rows its figures can count (see "the summary" below).
Medians and 90th percentiles are exact in both databases: PostgreSQL computes them with
`percentile_cont` (linear interpolation between the two nearest values); on SQLite, which has
no percentile aggregate, one query fetches the durations (two timestamps a row, no per-row
query) and the same interpolation runs in Python.

Definitions (local calendar dates, the period `from`–`to` inclusive):
- opened: created in the period; finished: finished in the period (any final status);
- in progress / overdue: at the end of the period (now, while it runs): created and not yet
  finished at that moment / and late then: a step task open and past its due time, a
  remittance unpaid past its due date, or a mediation past its statutory term;
- hardship: "approved" = reached disbursement (the final approval was given) in the period,
  with the finally approved amount; "disbursed" = paid in the period (payment date), with the
  amount paid; households helped = distinct applicants of cases paid in the period (a household
  helped twice counts once in the total, and once in each aid type row it appears in);
- mediation: categories of the applications received in the period; outcomes of the cases
  finished in it; success rate = effective agreements ÷ closed mediations
  (cases.mediation.selectors.success_rate); days to close = receipt to closure; within the
  statutory term = the agreement took effect, or the case closed without one, by the
  statutory deadline (as extended);
- remittance: the declarations (regular and supplementary, not voided) of the months that
  begin in the period, as they stand now; on time = paid by the due date;
- tasks: human step tasks completed in the period (skipped steps not counted): time from
  opening to completion; late = completed after the due time; overdue = open and past due at
  the end of the period.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from math import floor

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Sum,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.status import STATUS

from approvals.calendar import local_date, local_zone
from approvals.models import CaseTask
from cases.hardship.models import AidType
from cases.hardship.models import Category as HardshipCategory
from cases.mediation.models import Category as MediationCategory
from cases.mediation.models import MediationCase
from cases.mediation.models import Outcome as MediationOutcome
from cases.models import Case, CaseStatus
from cases.remittance.models import Remittance
from cases.selectors import cases_in_reach
from core.errors import Invalid
from organizations.models import Organization, Role
from organizations.selectors import memberships_of, officer_paths, subtree_q

from .models import TrailVerification

PROCESSES = ("hardship", "mediation", "remittance")
HUMAN = "HUMAN"
ZERO = Decimal("0.00")
RATE = Decimal("0.0001")
TENTH = Decimal("0.1")
# Final statuses in the order reports show them.
FINAL_STATUSES = (
    CaseStatus.APPROVED,
    CaseStatus.CLOSED,
    CaseStatus.REJECTED,
    CaseStatus.WITHDRAWN,
)
MEDIATION_OUTCOMES = (
    MediationOutcome.AGREEMENT,
    MediationOutcome.NO_AGREEMENT,
    MediationOutcome.EXPIRED,
    MediationOutcome.DECLINED,
    "withdrawn",
)
HARDSHIP_CATEGORIES = tuple(c for c in HardshipCategory if c != HardshipCategory.INELIGIBLE)


# --- percentiles ----------------------------------------------------------------------------


class PercentileCont(Aggregate):
    """PostgreSQL's `percentile_cont(f) WITHIN GROUP (ORDER BY expr)`: the value at fraction
    `f` of the ordered values, interpolated linearly (works on intervals)."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression, fraction, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def percentile_cont(values, fraction):
    """The same interpolation as PostgreSQL's percentile_cont, on sorted values (None when
    there are none)."""
    if not values:
        return None
    position = fraction * (len(values) - 1)
    lower = floor(position)
    upper = min(lower + 1, len(values) - 1)
    return values[lower] + (values[upper] - values[lower]) * (position - lower)


def native_percentiles():
    return connection.vendor == "postgresql"


def hours(delta):
    """A duration in hours, to a tenth (half up); None stays None."""
    if delta is None:
        return None
    micro = Decimal(delta // timedelta(microseconds=1))
    return (micro / Decimal(3_600_000_000)).quantize(TENTH, rounding=ROUND_HALF_UP)


def days(delta):
    if delta is None:
        return None
    micro = Decimal(delta // timedelta(microseconds=1))
    return (micro / Decimal(86_400_000_000)).quantize(TENTH, rounding=ROUND_HALF_UP)


def ratio(part, whole):
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(RATE, rounding=ROUND_HALF_UP)


def money(value):
    return (value if value is not None else ZERO).quantize(Decimal("0.01"))


def _duration(start, end):
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


# --- the conditions behind each figure --------------------------------------------------------


def scope_q(organization):
    """Cases of the three processes in the organization's subtree."""
    return Q(process__in=PROCESSES, organization__path__startswith=organization.path)


def opened_q(period):
    return Q(created_at__gte=period.start_at, created_at__lt=period.end_at)


def finished_q(period):
    return Q(finished_at__gte=period.start_at, finished_at__lt=period.end_at)


def in_progress_q(at):
    return Q(created_at__lte=at) & (Q(finished_at__isnull=True) | Q(finished_at__gt=at))


def open_tasks_at(at):
    """Human step tasks open at the moment `at`."""
    return CaseTask.objects.filter(flow_task_type=HUMAN, created__lte=at).filter(
        Q(finished__isnull=True) | Q(finished__gt=at)
    )


def open_task_parts(at):
    """`open_tasks_at(at)` as its two disjoint parts: still open, and finished after `at`.
    Apart, each part is one range of the index of finished times (reports migration 0002);
    their OR would send PostgreSQL to the table for every open task."""
    tasks = CaseTask.objects.filter(flow_task_type=HUMAN, created__lte=at)
    return tasks.filter(finished__isnull=True), tasks.filter(finished__gt=at)


def cases_with_late_tasks(at, **within):
    """Case ids of the tasks open at `at` and past due then (narrowed by `within`), as the
    union of the two parts of `open_task_parts`."""
    still_open, finished_later = (
        part.filter(due_at__lt=at, **within).order_by().values("case_id")
        for part in open_task_parts(at)
    )
    return still_open.union(finished_later, all=True)


def overdue_q(at, organization=None):
    """In progress at `at` and late then: a step task past its due time, a remittance unpaid
    past its due date, or a mediation past its statutory term without an effective agreement
    (the beat ends those soon after). Each kind of lateness is one uncorrelated subquery, which
    PostgreSQL computes once (a hashed set) instead of probing it for every case. When the
    cases are counted in an `organization` with no unions under it, each set is only its own
    cases': for a few cases the join that leaves the rest out is cheaper than the whole
    tree's rows (for a larger subtree it is dearer)."""
    within = {}
    if organization is not None and not organization.numchild:
        within = {"case__organization": organization}
    day = local_date(at)
    unpaid = Remittance.objects.filter(due_date__lt=day, **within).filter(
        Q(paid_on__isnull=True) | Q(paid_on__gt=day)
    )
    past_term = MediationCase.objects.filter(statutory_deadline__lt=at, **within).filter(
        Q(effective_at__isnull=True) | Q(effective_at__gt=at)
    )
    return in_progress_q(at) & (
        Q(pk__in=cases_with_late_tasks(at, **within))
        | Q(pk__in=unpaid.values("case_id"))
        | Q(pk__in=past_term.values("case_id"))
    )


def hardship_application_q():
    return Q(process="hardship", hardship__kind="application")


def hardship_disbursed_q(period):
    return hardship_application_q() & Q(
        hardship__disbursed_on__gte=period.start, hardship__disbursed_on__lte=period.end
    )


def hardship_approved_q(period):
    """The final approval was given in the period: the case reached its disbursement step."""
    reached = CaseTask.objects.filter(
        case=OuterRef("pk"),
        flow_task_type=HUMAN,
        flow_task__endswith=".disbursement",
        created__gte=period.start_at,
        created__lt=period.end_at,
    )
    return hardship_application_q() & Q(Exists(reached))


def hardship_category_q(category):
    return Q(hardship__approved_category=category) | Q(
        hardship__approved_category="", hardship__proposed_category=category
    )


def mediation_closed_q(period):
    return Q(process="mediation", status=CaseStatus.CLOSED) & finished_q(period)


def mediation_agreement_q(period):
    return mediation_closed_q(period) & Q(mediation__effective_at__isnull=False)


def mediation_within_term_q(period):
    ended_in_term = Q(
        mediation__effective_at__isnull=False,
        mediation__effective_at__lte=F("mediation__statutory_deadline"),
    ) | Q(
        mediation__effective_at__isnull=True,
        finished_at__lte=F("mediation__statutory_deadline"),
    )
    return mediation_closed_q(period) & ended_in_term


def remittance_q(period):
    return Q(
        process="remittance",
        remittance__voided=False,
        remittance__period__gte=period.start,
        remittance__period__lte=period.end,
    )


def remittance_paid_q(period):
    return remittance_q(period) & Q(remittance__paid_on__isnull=False)


def remittance_verified_q(period):
    return remittance_q(period) & Q(remittance__verified_at__isnull=False)


def remittance_on_time_q(period):
    return remittance_paid_q(period) & Q(remittance__paid_on__lte=F("remittance__due_date"))


def remittance_late_q(period):
    return remittance_paid_q(period) & Q(remittance__paid_on__gt=F("remittance__due_date"))


def remittance_late_fee_q(period):
    return remittance_q(period) & Q(remittance__late_fee__gt=0)


def remittance_unpaid_overdue_q(period, today=None):
    today = today or timezone.localdate()
    return remittance_q(period) & Q(
        remittance__paid_on__isnull=True, remittance__due_date__lt=today
    )


def completed_tasks(period):
    return (
        CaseTask.objects.filter(
            flow_task_type=HUMAN,
            status=STATUS.DONE,
            finished__gte=period.start_at,
            finished__lt=period.end_at,
        )
        .exclude(decision="skipped")
        .exclude(finished__isnull=True)
    )


def _task_exists(tasks, step):
    tasks = tasks.filter(case=OuterRef("pk"))
    if step is not None:
        tasks = tasks.filter(flow_task=step)
    return Q(Exists(tasks))


# --- the figure registry: what a link on the dashboard asks for -------------------------------


@dataclass(frozen=True)
class Options:
    """Narrowing of a figure (each optional): process, final status or outcome, hardship aid
    type or category, mediation category, step (a flow node)."""

    process: str = ""
    status: str = ""
    outcome: str = ""
    aid_type: str = ""
    category: str = ""
    mediation_category: str = ""
    step: object = None

    def as_params(self):
        out = {
            name: getattr(self, name)
            for name in (
                "process",
                "status",
                "outcome",
                "aid_type",
                "category",
                "mediation_category",
            )
            if getattr(self, name)
        }
        if self.step is not None:
            out["step"] = step_key(self.step)
        return out


def _narrow(q, options):
    if options.process:
        q &= Q(process=options.process)
    if options.status:
        q &= Q(status=options.status)
    if options.outcome:
        q &= Q(outcome=options.outcome)
    if options.aid_type:
        q &= Q(hardship__aid_type=options.aid_type)
    if options.category:
        q &= hardship_category_q(options.category)
    if options.mediation_category:
        q &= Q(mediation__category=options.mediation_category)
    return q


FIGURES = {
    "opened": lambda p, o, at, org: opened_q(p),
    "finished": lambda p, o, at, org: finished_q(p),
    "in_progress": lambda p, o, at, org: in_progress_q(at),
    "overdue": lambda p, o, at, org: overdue_q(at, org),
    "hardship.approved": lambda p, o, at, org: hardship_approved_q(p),
    "hardship.disbursed": lambda p, o, at, org: hardship_disbursed_q(p),
    "mediation.closed": lambda p, o, at, org: mediation_closed_q(p),
    "mediation.agreements": lambda p, o, at, org: mediation_agreement_q(p),
    "mediation.within_term": lambda p, o, at, org: mediation_within_term_q(p),
    "remittance.declared": lambda p, o, at, org: remittance_q(p),
    "remittance.paid": lambda p, o, at, org: remittance_paid_q(p),
    "remittance.verified": lambda p, o, at, org: remittance_verified_q(p),
    "remittance.on_time": lambda p, o, at, org: remittance_on_time_q(p),
    "remittance.late": lambda p, o, at, org: remittance_late_q(p),
    "remittance.late_fee": lambda p, o, at, org: remittance_late_fee_q(p),
    "remittance.unpaid_overdue": lambda p, o, at, org: remittance_unpaid_overdue_q(p),
    "tasks.completed": lambda p, o, at, org: _task_exists(completed_tasks(p), o.step),
    "tasks.late": lambda p, o, at, org: _task_exists(
        completed_tasks(p).filter(due_at__isnull=False, finished__gt=F("due_at")), o.step
    ),
    "tasks.overdue": lambda p, o, at, org: (
        in_progress_q(at) & _task_exists(open_tasks_at(at).filter(due_at__lt=at), o.step)
    ),
}


def figure_q(figure, period, options=None, at=None, organization=None):
    """The condition of a figure; `organization`, the subtree the cases are taken from, only
    lets a condition look at that subtree's rows (the cases it selects are the same)."""
    options = options or Options()
    at = at or period.as_of()
    return _narrow(FIGURES[figure](period, options, at, organization), options)


def step_key(node):
    """`hardship.grassroots_review` for a flow node."""
    return f"{node.flow_class.process_name}.{node.name}"


def resolve_step(value):
    """The Step node named `process.step`, or None."""
    from approvals.nodes import Step
    from workflows.base import registered

    process, _sep, name = str(value).partition(".")
    flow_class = registered().get(process) if process in PROCESSES else None
    node = getattr(flow_class.instance, name, None) if flow_class else None
    return node if isinstance(node, Step) else None


def parse_figure(params):
    """The figure a case list is asked for, and its options; 400 naming the field at fault."""
    figure = str(params.get("figure") or "").strip()
    errors = {}
    if figure not in FIGURES:
        errors["figure"] = [_("Unknown figure.")]
    checks = {
        "process": PROCESSES,
        "status": tuple(CaseStatus.values),
        "aid_type": tuple(AidType.values),
        "category": tuple(HardshipCategory.values),
        "mediation_category": tuple(MediationCategory.values),
    }
    values = {}
    for name, allowed in checks.items():
        value = str(params.get(name) or "").strip()
        if value and value not in allowed:
            errors[name] = [_("Not a valid choice.")]
        values[name] = value
    outcome = str(params.get("outcome") or "").strip()
    if outcome and (len(outcome) > 40 or not outcome.replace("_", "").isalpha()):
        errors["outcome"] = [_("Not a valid choice.")]
    step = None
    raw_step = str(params.get("step") or "").strip()
    if raw_step:
        step = resolve_step(raw_step)
        if step is None:
            errors["step"] = [_("No such step.")]
    if errors:
        raise Invalid(_("Invalid figure."), fields=errors)
    return figure, Options(outcome=outcome, step=step, **values)


def cases_behind(user, organization, period, figure, options=None):
    """The cases a figure counts, as the caller may see them, newest first."""
    return (
        cases_in_reach(user)
        .filter(scope_q(organization))
        .filter(figure_q(figure, period, options, organization=organization))
        .order_by("-created_at", "-pk")
    )


# --- the summary ------------------------------------------------------------------------------
#
# Each query reads only the rows its figures can count — a superset of every figure's condition
# (`figure_q`) that PostgreSQL finds through an index on the period's dates (reports migration
# 0002) — and each figure is an aggregate filtered by its own condition, so a figure and the
# list behind it still agree. Figures split by a small fixed set (aid type, category, outcome,
# status, month) are filtered aggregates or groups of the same pass, not queries of their own:
# processes and months one query, hardship two, mediation one, remittance one, tasks three.
# Subqueries that would be probed once per case (a correlated EXISTS inside an aggregate's
# filter) are uncorrelated sets, computed once.


def _processes(cases, period, at, organization):
    """Figures per process and the month-by-month openings, from one pass over the cases
    opened, finished or in progress in the period."""
    opened, finished = opened_q(period), finished_q(period)
    counts = {"opened": opened, "finished": finished}
    counts["in_progress"] = in_progress_q(at)
    counts["overdue"] = overdue_q(at, organization)
    aggregates = {name: Count("pk", filter=q) for name, q in counts.items()}
    for status in FINAL_STATUSES:
        aggregates[f"finished_{status}"] = Count("pk", filter=finished & Q(status=status))
    grouped = (
        cases.filter(opened | finished | in_progress_q(at))
        .annotate(month=TruncMonth("created_at", tzinfo=local_zone()))
        .values("process", "month")
        .annotate(**aggregates)
        .order_by()
    )
    totals = {}
    monthly = {}
    for row in grouped:
        total = totals.setdefault(row["process"], dict.fromkeys(aggregates, 0))
        for name in aggregates:
            total[name] += row[name]
        if row["opened"]:
            month = (timezone.localtime(row["month"]).date(), row["process"])
            monthly[month] = monthly.get(month, 0) + row["opened"]
    out = []
    for process in PROCESSES:
        row = totals.get(process, {})
        out.append(
            {
                "process": process,
                **{name: row.get(name, 0) for name in counts},
                "finished_by_status": {
                    s.value: row.get(f"finished_{s}", 0) for s in FINAL_STATUSES
                },
            }
        )
    months = [
        {"month": month.strftime("%Y-%m"), **{p: monthly.get((month, p), 0) for p in PROCESSES}}
        for month in period.months()
    ]
    return out, months


def _hardship(cases, period):
    """Two passes: the cases approved in the period (a semi-join on the disbursement steps
    opened in it) by aid type, and the cases paid in it (by the payment date's index), each
    aid type and category a filtered aggregate."""
    approved = {
        row["hardship__aid_type"]: row
        for row in cases.filter(hardship_approved_q(period))
        .values("hardship__aid_type")
        .annotate(cases=Count("pk"), amount=Sum("hardship__approved_amount"))
        .order_by()
    }
    disbursed = hardship_disbursed_q(period)
    aggregates = {
        "households": Count("applicant", distinct=True),
        "cases": Count("pk"),
        "amount": Sum("hardship__disbursed_amount"),
    }
    groups = {f"type_{t}": Q(hardship__aid_type=t) for t in AidType}
    groups |= {f"category_{c}": hardship_category_q(c) for c in HARDSHIP_CATEGORIES}
    for group, q in groups.items():
        aggregates[f"{group}_households"] = Count("applicant", distinct=True, filter=q)
        aggregates[f"{group}_cases"] = Count("pk", filter=q)
        aggregates[f"{group}_amount"] = Sum("hardship__disbursed_amount", filter=q)
    paid = cases.filter(disbursed).aggregate(**aggregates)

    def by_type(aid_type):
        row = approved.get(aid_type.value, {})
        return {
            "aid_type": aid_type.value,
            "households": paid[f"type_{aid_type}_households"],
            "approved_cases": row.get("cases", 0),
            "approved_amount": money(row.get("amount")),
            "disbursed_cases": paid[f"type_{aid_type}_cases"],
            "disbursed_amount": money(paid[f"type_{aid_type}_amount"]),
        }

    return {
        "households_helped": paid["households"],
        "approved": {
            "cases": sum(row["cases"] for row in approved.values()),
            "amount": money(sum((row["amount"] or ZERO for row in approved.values()), ZERO)),
        },
        "disbursed": {"cases": paid["cases"], "amount": money(paid["amount"])},
        "by_aid_type": [by_type(aid_type) for aid_type in AidType],
        "by_category": [
            {
                "category": category.value,
                "households": paid[f"category_{category}_households"],
                "disbursed_cases": paid[f"category_{category}_cases"],
                "disbursed_amount": money(paid[f"category_{category}_amount"]),
            }
            for category in HARDSHIP_CATEGORIES
        ],
    }


def _mediation(cases, period):
    opened, finished = opened_q(period), finished_q(period)
    closed = mediation_closed_q(period)
    aggregates = {
        f"category_{c}": Count("pk", filter=opened & Q(mediation__category=c))
        for c in MediationCategory
    }
    for outcome in MEDIATION_OUTCOMES:
        aggregates[f"outcome_{outcome}"] = Count("pk", filter=finished & Q(outcome=outcome))
    aggregates["closed"] = Count("pk", filter=closed)
    aggregates["agreements"] = Count("pk", filter=mediation_agreement_q(period))
    aggregates["within_term"] = Count("pk", filter=mediation_within_term_q(period))
    span = _duration("created_at", "finished_at")
    if native_percentiles():
        aggregates["median"] = PercentileCont(span, 0.5, filter=closed)
    mediation = cases.filter(process="mediation")
    f = mediation.filter(opened | finished).aggregate(**aggregates)
    if native_percentiles():
        median = f["median"]
    else:
        spans = sorted(
            done - created
            for created, done in mediation.filter(closed).values_list("created_at", "finished_at")
        )
        median = percentile_cont(spans, 0.5)
    return {
        "by_category": [
            {"category": c.value, "opened": f[f"category_{c}"]} for c in MediationCategory
        ],
        "outcomes": {str(o): f[f"outcome_{o}"] for o in MEDIATION_OUTCOMES},
        "closed": f["closed"],
        "agreements": f["agreements"],
        # = cases.mediation.selectors.success_rate for the subtree and period (effective
        # agreements ÷ closed mediations, finished on the period's local dates), from the two
        # figures just counted rather than a query of its own.
        "success_rate": ratio(f["agreements"], f["closed"]),
        "median_days_to_close": days(median),
        "closed_within_term": f["within_term"],
        "within_term_rate": ratio(f["within_term"], f["closed"]),
    }


def _remittance(cases, period):
    declared, paid = remittance_q(period), remittance_paid_q(period)
    verified = remittance_verified_q(period)
    unpaid = remittance_unpaid_overdue_q(period)
    # Every figure is among the declarations of the period (found by the period's index).
    f = cases.filter(declared).aggregate(
        declarations=Count("pk", filter=declared),
        fund_due=Sum("remittance__fund_due", filter=declared),
        upper_share=Sum("remittance__upper_share", filter=declared),
        paid_count=Count("pk", filter=paid),
        paid_amount=Sum("remittance__paid_amount", filter=paid),
        verified_count=Count("pk", filter=verified),
        verified_amount=Sum("remittance__paid_amount", filter=verified),
        on_time=Count("pk", filter=remittance_on_time_q(period)),
        late=Count("pk", filter=remittance_late_q(period)),
        late_fees=Sum("remittance__late_fee", filter=declared),
        unpaid_count=Count("pk", filter=unpaid),
        unpaid_upper_share=Sum("remittance__upper_share", filter=unpaid),
    )
    return {
        "declarations": f["declarations"],
        "fund_due": money(f["fund_due"]),
        "upper_share": money(f["upper_share"]),
        "paid": {"count": f["paid_count"], "amount": money(f["paid_amount"])},
        "verified": {"count": f["verified_count"], "amount": money(f["verified_amount"])},
        "paid_on_time": f["on_time"],
        "paid_late": f["late"],
        "on_time_rate": ratio(f["on_time"], f["paid_count"]),
        "late_fees": money(f["late_fees"]),
        "unpaid_overdue": {
            "count": f["unpaid_count"],
            "upper_share": money(f["unpaid_upper_share"]),
        },
    }


def _tasks(organization, period, at):
    scoped = {
        "case__process__in": PROCESSES,
        "case__organization__path__startswith": organization.path,
    }
    done = completed_tasks(period).filter(**scoped)
    duration = _duration("created", "finished")
    aggregates = {
        "completed": Count("pk"),
        "late": Count("pk", filter=Q(due_at__isnull=False, finished__gt=F("due_at"))),
    }
    if native_percentiles():
        aggregates["median"] = PercentileCont(duration, 0.5)
        aggregates["p90"] = PercentileCont(duration, 0.9)
    rows = {}
    for row in done.values("case__process", "flow_task").annotate(**aggregates):
        rows[(row["case__process"], row["flow_task"].name)] = row
    if not native_percentiles():
        spans = {}
        for process, step, created, finished in done.values_list(
            "case__process", "flow_task", "created", "finished"
        ):
            spans.setdefault((process, step.name), []).append(finished - created)
        for key, values in spans.items():
            values.sort()
            rows[key]["median"] = percentile_cont(values, 0.5)
            rows[key]["p90"] = percentile_cont(values, 0.9)
    overdue = {}
    for part in open_task_parts(at):  # two disjoint parts: their counts add up
        for row in (
            part.filter(due_at__lt=at, **scoped)
            .filter(in_progress_case_at(at))
            .values("case__process", "flow_task")
            .annotate(overdue=Count("pk"))
        ):
            key = (row["case__process"], row["flow_task"].name)
            entry = overdue.setdefault(key, {"flow_task": row["flow_task"], "overdue": 0})
            entry["overdue"] += row["overdue"]
    nodes = {}
    for source in (rows, overdue):
        for key, row in source.items():
            nodes.setdefault(key, row["flow_task"])
    out = []
    for key in sorted(nodes, key=_step_order):
        node = nodes[key]
        row = rows.get(key, {})
        out.append(
            {
                "process": key[0],
                "step": node.name,
                "title": str(getattr(node, "task_title", node.name)),
                "completed": row.get("completed", 0),
                "median_hours": hours(row.get("median")),
                "p90_hours": hours(row.get("p90")),
                "late": row.get("late", 0),
                "overdue": overdue.get(key, {}).get("overdue", 0),
            }
        )
    return out


def in_progress_case_at(at):
    return Q(case__created_at__lte=at) & (
        Q(case__finished_at__isnull=True) | Q(case__finished_at__gt=at)
    )


def _step_order(key):
    """Processes in report order, steps in the order their flow declares them."""
    from workflows.base import flow_for

    process, name = key
    order = list(vars(flow_for(process)))
    return (PROCESSES.index(process), order.index(name) if name in order else len(order), name)


def summary(organization, period, now=None):
    """Every figure of the organization's subtree for the period (see the module docstring)."""
    at = period.as_of(now)
    cases = Case.objects.filter(scope_q(organization))
    processes, monthly = _processes(cases, period, at, organization)
    return {
        "organization": {"id": organization.pk, "name": organization.name},
        "period": {"from": period.start, "to": period.end, "as_of": at},
        "processes": processes,
        "hardship": _hardship(cases, period),
        "mediation": _mediation(cases, period),
        "remittance": _remittance(cases, period),
        "tasks": _tasks(organization, period, at),
        "monthly": monthly,
    }


# --- pickers and the last verification ----------------------------------------------------------


def organizations_for_picker(user):
    """Organizations a report may be asked for: the caller's officer subtrees."""
    if user.is_superuser:
        return Organization.objects.order_by("path")
    return Organization.objects.filter(subtree_q(officer_paths(user))).order_by("path")


def is_auditor(user):
    return user.is_superuser or any(m.role == Role.AUDITOR for m in memberships_of(user))


def last_verification():
    return TrailVerification.objects.order_by("-finished_at", "-pk").first()
