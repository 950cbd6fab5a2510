"""Report pages: the dashboard (figures and charts of a period and an organization, each figure
linked to the cases behind it), those case lists, the export downloads and the progress page
of a long export. Officers and auditors only (403 for members); an organization out of reach
is 404. The same selectors and services as the API."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from cases.hardship.models import AidType
from cases.hardship.models import Category as HardshipCategory
from cases.mediation.models import Category as MediationCategory
from core.errors import DomainError, Forbidden, NotFound
from core.ui import page, refuse

from . import charts, selectors, services
from . import params as report_params
from .api import file_response, job_file_response
from .models import ExportJob


def _process_labels():
    return {
        "hardship": _("Hardship aid"),
        "mediation": _("Labor-dispute mediation"),
        "remittance": _("Fee remittance"),
    }


def _outcome_labels():
    return {
        "agreement": _("Agreement"),
        "no_agreement": _("No agreement"),
        "expired": _("Past the statutory term"),
        "declined": _("Declined"),
        "withdrawn": _("Withdrawn"),
    }


def _reporter_or_403(user):
    if not report_params.may_report(user):
        raise PermissionDenied


def _domain(exc):
    """A service's error as the page's answer: 403 / 404 pages, else None (shown as a message)."""
    if isinstance(exc, Forbidden):
        raise PermissionDenied(str(exc.detail))
    if isinstance(exc, NotFound):
        raise Http404(str(exc.detail))


class Links:
    """URLs of the case lists behind figures, for one organization and period."""

    def __init__(self, organization, period):
        self.base = {"organization": organization.pk, **period.as_params()}

    def __call__(self, figure, **options):
        query = {**self.base, "figure": figure, **{k: v for k, v in options.items() if v}}
        return f"{reverse('reports-cases')}?{urlencode(query)}"


def _month_labels(months):
    """`03` within one year, `2025-03` across years."""
    if len({m[:4] for m in months}) == 1:
        return [m[5:] for m in months]
    return months


def _charts(summary, link):
    labels = _process_labels()
    processes = summary["processes"]
    names = [labels[p["process"]] for p in processes]
    out = {
        "processes": charts.column_chart(
            "processes",
            _("Cases opened and finished by process"),
            names,
            [
                (
                    _("Opened"),
                    [p["opened"] for p in processes],
                    [link("opened", process=p["process"]) for p in processes],
                ),
                (
                    _("Finished"),
                    [p["finished"] for p in processes],
                    [link("finished", process=p["process"]) for p in processes],
                ),
            ],
        ),
        "monthly": charts.line_chart(
            "monthly",
            _("Cases opened per month"),
            _month_labels([m["month"] for m in summary["monthly"]]),
            [(labels[p], [m[p] for m in summary["monthly"]]) for p in selectors.PROCESSES],
        ),
    }
    aid_labels = dict(AidType.choices)
    out["aid_types"] = charts.bar_chart(
        "aid_types",
        _("Aid disbursed by aid type (CNY)"),
        [
            (
                str(aid_labels[t["aid_type"]]),
                t["disbursed_amount"],
                link("hardship.disbursed", aid_type=t["aid_type"]),
            )
            for t in summary["hardship"]["by_aid_type"]
        ],
    )
    categories = dict(MediationCategory.choices)
    out["mediation_categories"] = charts.bar_chart(
        "mediation_categories",
        _("Mediation applications by category"),
        [
            (
                str(categories[c["category"]]),
                c["opened"],
                link("opened", process="mediation", mediation_category=c["category"]),
            )
            for c in summary["mediation"]["by_category"]
        ],
    )
    outcome_labels = _outcome_labels()
    out["outcomes"] = charts.bar_chart(
        "outcomes",
        _("Mediation outcomes"),
        [
            (
                str(outcome_labels[o]),
                n,
                link("finished", process="mediation", outcome=o),
            )
            for o, n in summary["mediation"]["outcomes"].items()
        ],
    )
    steps = [t for t in summary["tasks"] if t["median_hours"] is not None]
    out["steps"] = charts.bar_chart(
        "steps",
        _("Median hours per step"),
        [
            (
                f"{labels[t['process']]} · {t['title']}",
                t["median_hours"],
                link("tasks.completed", step=f"{t['process']}.{t['step']}"),
            )
            for t in steps
        ],
    )
    return out


def _rows(summary, link):
    """The figures of the tables, each with the link to its cases."""
    labels = _process_labels()
    processes = [
        {
            **p,
            "label": labels[p["process"]],
            "links": {
                name: link(name, process=p["process"])
                for name in ("opened", "finished", "in_progress", "overdue")
            },
        }
        for p in summary["processes"]
    ]
    aid_labels = dict(AidType.choices)
    aid_types = [
        {
            **t,
            "label": aid_labels[t["aid_type"]],
            "approved_link": link("hardship.approved", aid_type=t["aid_type"]),
            "disbursed_link": link("hardship.disbursed", aid_type=t["aid_type"]),
        }
        for t in summary["hardship"]["by_aid_type"]
    ]
    category_labels = dict(HardshipCategory.choices)
    categories = [
        {
            **c,
            "label": category_labels[c["category"]],
            "link": link("hardship.disbursed", category=c["category"]),
        }
        for c in summary["hardship"]["by_category"]
    ]
    steps = [
        {
            **t,
            "label": labels[t["process"]],
            "completed_link": link("tasks.completed", step=f"{t['process']}.{t['step']}"),
            "late_link": link("tasks.late", step=f"{t['process']}.{t['step']}"),
            "overdue_link": link("tasks.overdue", step=f"{t['process']}.{t['step']}"),
        }
        for t in summary["tasks"]
    ]
    return {
        "processes": processes,
        "aid_types": aid_types,
        "categories": categories,
        "steps": steps,
    }


def _picker(user):
    """(id, label) of the organizations a report may cover, indented by depth."""
    organizations = list(selectors.organizations_for_picker(user))
    top = min((o.depth for o in organizations), default=1)
    return [(o.pk, "\u3000" * (o.depth - top) + o.name) for o in organizations]


@require_safe
@page("reports")
def dashboard(request):
    user = request.user
    _reporter_or_403(user)
    errors = {}
    try:
        period = report_params.parse_period(request.GET)
    except DomainError as exc:
        errors.update(exc.fields)
        period = report_params.this_year()
    try:
        organization = report_params.parse_organization(user, request.GET)
    except DomainError as exc:
        _domain(exc)
        errors.update(exc.fields)
        organization = report_params.default_organization(user)
    if organization is None:
        raise Http404
    summary = selectors.summary(organization, period)
    link = Links(organization, period)
    query = urlencode({"organization": organization.pk, **period.as_params()})
    context = {
        "summary": summary,
        "period": period,
        "organization": organization,
        "organizations": _picker(user),
        "errors": errors,
        "charts": _charts(summary, link),
        "rows": _rows(summary, link),
        "link": {
            name.replace(".", "_"): link(name)
            for name in (
                "hardship.approved",
                "hardship.disbursed",
                "mediation.closed",
                "mediation.agreements",
                "mediation.within_term",
                "remittance.declared",
                "remittance.paid",
                "remittance.verified",
                "remittance.on_time",
                "remittance.late",
                "remittance.late_fee",
                "remittance.unpaid_overdue",
            )
        },
        "query": query,
        "year": period.start.year,
        "verification": selectors.last_verification() if selectors.is_auditor(user) else None,
        "is_auditor": selectors.is_auditor(user),
        "status": 400 if errors else 200,
    }
    return render(request, "reports/dashboard.html", context, status=context["status"])


FIGURE_TITLES = {
    "opened": gettext_lazy("Cases opened"),
    "finished": gettext_lazy("Cases finished"),
    "in_progress": gettext_lazy("Cases in progress at the end of the period"),
    "overdue": gettext_lazy("Cases overdue at the end of the period"),
    "hardship.approved": gettext_lazy("Hardship aid approved"),
    "hardship.disbursed": gettext_lazy("Hardship aid disbursed"),
    "mediation.closed": gettext_lazy("Mediations closed"),
    "mediation.agreements": gettext_lazy("Mediations closed with an effective agreement"),
    "mediation.within_term": gettext_lazy("Mediations ended within the statutory term"),
    "remittance.declared": gettext_lazy("Fee declarations"),
    "remittance.paid": gettext_lazy("Fee declarations paid"),
    "remittance.verified": gettext_lazy("Fee payments verified"),
    "remittance.on_time": gettext_lazy("Fees paid on time"),
    "remittance.late": gettext_lazy("Fees paid late"),
    "remittance.late_fee": gettext_lazy("Declarations with a late fee"),
    "remittance.unpaid_overdue": gettext_lazy("Fees unpaid past the due date"),
    "tasks.completed": gettext_lazy("Cases with steps completed"),
    "tasks.late": gettext_lazy("Cases with steps completed late"),
    "tasks.overdue": gettext_lazy("Cases with steps overdue"),
}


@require_safe
@page("reports")
def figure_cases(request):
    """The cases behind a figure (or, without one, the case filters of the API)."""
    _reporter_or_403(request.user)
    return _cases_page(request, request.GET)


def _cases_page(request, params):
    """The case list for `params` (a figure's, or the API's case filters), with its export form;
    filters that cannot be read are named on the page with 400."""
    try:
        cases = services.case_list(request.user, params)
        organization, period = (
            report_params.parse(request.user, params) if params.get("figure") else (None, None)
        )
    except DomainError as exc:
        _domain(exc)
        return render(
            request,
            "reports/cases.html",
            {"error": exc, "fields": exc.fields, "page": None},
            status=400,
        )
    figure = params.get("figure", "")
    page_obj = Paginator(cases, 25).get_page(params.get("page"))
    query = {k: v for k, v in params.items() if k != "page"}
    return render(
        request,
        "reports/cases.html",
        {
            "page": page_obj,
            "figure": figure,
            "title": FIGURE_TITLES.get(figure) or _("Cases"),
            "organization": organization,
            "period": period,
            "query": urlencode(query),
            "hidden": query,
            "count": page_obj.paginator.count,
            "sync_max": services.SYNC_MAX_ROWS,
            "back": f"{reverse('reports-dashboard')}?"
            + urlencode({k: query[k] for k in ("from", "to", "organization") if k in query}),
        },
    )


def _download(request, build):
    """The file, or — refused — the dashboard for the same organization and period, with the
    reason on top (and a period it cannot read named on it)."""
    try:
        return build()
    except DomainError as exc:
        _domain(exc)
        messages.error(request, str(exc.detail))
        kept = {k: v for k, v in request.GET.items() if k in ("organization", "from", "to")}
        return redirect(f"{reverse('reports-dashboard')}?{urlencode(kept)}")


@require_safe
@page("reports")
def summary_file(request, fmt):
    _reporter_or_403(request.user)
    return _download(
        request, lambda: file_response(services.summary_file(request.user, request.GET, fmt))
    )


@require_safe
@page("reports")
def yearly_file(request):
    _reporter_or_403(request.user)
    return _download(
        request,
        lambda: file_response(services.yearly_file(request.user, request.GET), inline=True),
    )


@require_safe
@page("reports")
def trail_file(request, pk, fmt):
    _reporter_or_403(request.user)
    return _download(
        request,
        lambda: file_response(services.trail_file(request.user, pk, fmt), inline=fmt == "pdf"),
    )


@require_POST
@page("reports")
def export_cases(request):
    """Export a case list: at once when it is short, else as a job with a progress page. A
    refusal shows the list again: filters it cannot read named on it (400), else the reason on
    top with the refusal's status (core.ui.page)."""
    _reporter_or_403(request.user)
    fmt = request.POST.get("format", "xlsx")
    params = {
        k: v for k, v in request.POST.items() if k in services.PARAMS[ExportJob.Kind.CASES] and v
    }
    try:
        cases = services.case_list(request.user, params)
    except DomainError:
        return _cases_page(request, params)
    try:
        # A short list is fetched once and sent; a longer one becomes a job.
        short = services.short_cases_file(cases, fmt)
        if short is not None:
            return file_response(short)
        job = services.start_export(
            user=request.user, kind=ExportJob.Kind.CASES, fmt=fmt, params=params
        )
    except DomainError as exc:
        _domain(exc)
        refuse(request, exc)
        return _cases_page(request, params)
    return redirect("reports-export", pk=job.pk)


def _start_again(request, exc):
    """An export no longer handed over because its creator's reach changed since it was built
    (services.job_of): the dashboard, where it is started again, with the reason on top."""
    if getattr(exc, "code", None) != services.REACH_CHANGED:
        return None
    messages.error(request, str(exc.detail))
    return redirect("reports-dashboard")


@require_safe
@page("reports")
def export_job(request, pk):
    _reporter_or_403(request.user)
    try:
        job = services.job_of(request.user, pk)
    except DomainError as exc:
        withheld = _start_again(request, exc)
        if withheld is not None:
            return withheld
        _domain(exc)
        raise
    return render(request, "reports/export.html", {"job": job, "now": timezone.now()})


@require_safe
@page("reports")
def export_download(request, pk):
    _reporter_or_403(request.user)
    try:
        job = services.download(request.user, pk)
    except DomainError as exc:
        withheld = _start_again(request, exc)
        if withheld is not None:
            return withheld
        _domain(exc)
        messages.error(request, str(exc.detail))
        return redirect("reports-export", pk=pk)
    return job_file_response(job)
