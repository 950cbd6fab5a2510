"""Case pages: my cases, search (officers and auditors), and the case page — its fields, where
it stands on the process diagram, what happens next and by when, its trail with the chain
verified. Every page checks reach on the server: a case out of reach is 404."""

from decimal import Decimal

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe
from rest_framework import serializers
from viewflow.workflow import chart

from approvals.models import OPEN_STATUSES
from approvals.selectors import open_tasks_of
from core.errors import DomainError, Invalid
from core.ui import page, refuse

from . import selectors, trail
from .details import RateField, for_process
from .forms import WithdrawForm
from .models import CaseStatus


def _case_or_404(request, pk):
    case = selectors.case_in_reach(request.user, pk)
    if case is None:
        raise Http404
    return case


def process_fields(request, case):
    """The process's own fields as (label, value) pairs, rendered by the same serializer as the
    API (so masking and computed values agree)."""
    details = for_process(case.process)
    record = getattr(case, details.related_name, None) if details else None
    if record is None:
        return []
    serializer = details.serializer(record, context={"request": request})
    rows = []
    for name, value in serializer.data.items():
        field = serializer.fields.get(name)
        if (
            field is None
            or isinstance(value, (list, dict))
            or value in (None, "")
            or field.write_only
        ):
            continue  # structured parts have their own panels; empty ones say nothing
        rows.append((field.label or name.replace("_", " "), shown_value(field, value)))
    return rows


def shown_value(field, value):
    """A field's JSON value as the page shows it: yes/no, a choice's label, a rate as a
    percentage, a time in local time (as the page's other times)."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if getattr(field, "choices", None) and value in field.choices:
        return field.choices[value]
    if isinstance(field, RateField):
        percent = Decimal(value) * 100
        return f"{percent.normalize():f}%"
    if isinstance(field, serializers.DateTimeField):
        moment = parse_datetime(value)
        if moment is not None:
            return date_format(timezone.localtime(moment), "Y-m-d H:i")
    return value


def diagram(case):
    """viewflow's chart of the flow with the case's steps marked done / active."""
    if case.flow_process_id is None:
        return ""
    from workflows.base import flow_for

    flow_class = flow_for(case.process)
    grid = chart.calc_layout_data(flow_class)
    chart.calc_cell_status(flow_class, grid, case.flow_process_id)
    # viewflow captions an If's two ways in English.
    captions = {"yes": _("yes"), "no": _("no")}
    for edge in grid.edges:
        edge.label = captions.get(edge.label, edge.label)
    return mark_safe(chart.grid_to_svg(grid))  # rendered by viewflow from our flow definition


def step_titles(case):
    """Node name → the step's title, for the trail (which stores node names)."""
    from workflows.base import flow_for

    try:
        flow_class = flow_for(case.process)
    except KeyError:
        return {}
    return {
        node.name: str(node.task_title) for node in flow_class.instance.nodes() if node.task_title
    }


def case_context(request, case):
    from workflows.base import flow_for

    events = list(selectors.trail_of(case))
    details = for_process(case.process)
    panel = details.panel(request, case) if details and details.panel else None
    return {
        "case": case,
        "step_titles": step_titles(case),
        "fields": process_fields(request, case),
        "open_tasks": list(open_tasks_of([case.pk])),
        "verification": trail.verify_events(events, trail.checkpoint_of(case.pk)),
        "events": selectors.trail_shown_to(request.user, case, events),
        "chart": diagram(case),
        "panel": panel,
        # Offered only where the process would allow it (until disbursement, not under a
        # supplementary declaration …), not refused after the tap.
        "can_withdraw": case.status == CaseStatus.IN_PROGRESS
        and request.user.pk in (case.applicant_id, case.submitted_by_id)
        and flow_for(case.process).instance.can_withdraw(case),
        "now": timezone.now(),
        "open_statuses": OPEN_STATUSES,
    }


@require_safe
@page("cases")
def case_detail(request, pk):
    case = _case_or_404(request, pk)
    if request.user.pk in (case.applicant_id, case.submitted_by_id):
        request.nav_section = "mine"
    return render(request, "cases/case_detail.html", case_context(request, case))


@require_POST
@page("mine")
def withdraw(request, pk):
    from approvals import services

    case = _case_or_404(request, pk)
    form = WithdrawForm(request.POST)
    try:
        if not form.is_valid():
            raise Invalid(
                " ".join(
                    _("%(field)s: %(message)s") % {"field": form[name].label, "message": message}
                    for name, errors in form.errors.items()
                    for message in errors
                )
            )
        services.withdraw(case_id=case.pk, user=request.user, **form.cleaned_data)
    except DomainError as exc:
        refuse(request, exc)
        return render(request, "cases/case_detail.html", case_context(request, case))
    messages.success(request, _("The case has been withdrawn."))
    return redirect("case-detail", pk=case.pk)


@require_safe
@page("mine")
def my_cases(request):
    from approvals.selectors import inbox

    cases = (
        selectors.cases_in_reach(request.user)
        .filter(Q(applicant=request.user) | Q(submitted_by=request.user))
        .order_by("-created_at")
    )
    page_obj = Paginator(cases, 20).get_page(request.GET.get("page"))
    current = {}
    for task in open_tasks_of([c.pk for c in page_obj]):
        # Each step once: a countersign step's slots (two investigators …) read as one step.
        current.setdefault(task.case_id, {}).setdefault(task.flow_task.name, task)
    for case in page_obj:
        case.current_tasks = list(current.get(case.pk, {}).values())
    return render(
        request,
        "cases/my_cases.html",
        {
            "page": page_obj,
            "my_tasks": inbox(request.user).filter(case__applicant=request.user),
            "now": timezone.now(),
        },
    )


@require_safe
@page("cases")
def case_search(request):
    q = request.GET.get("q", "").strip()[:100]
    status = request.GET.get("status", "")
    process = request.GET.get("process", "")
    cases = selectors.cases_in_reach(request.user).order_by("-created_at")
    if q:
        cases = cases.filter(
            Q(number__icontains=q)
            | Q(title__icontains=q)
            | Q(applicant__full_name__icontains=q)
            | Q(applicant__username__icontains=q)
        )
    if status in CaseStatus.values:
        cases = cases.filter(status=status)
    if process:
        cases = cases.filter(process=process)
    page_obj = Paginator(cases, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "cases/case_search.html",
        {
            "page": page_obj,
            "q": q,
            "status": status,
            "process": process,
            "statuses": CaseStatus.choices,
        },
    )
