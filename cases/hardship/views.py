"""Hardship aid pages: the application form, the case page's hardship section (eligibility,
public notice, objection, register entry, attachments), the notices of my union and the
objection. They call the same services as the API; every page checks reach on the server."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from viewflow.workflow.status import STATUS

from approvals.models import CaseTask
from cases.attachments import views as attachment_views
from cases.models import CaseStatus
from cases.selectors import case_in_reach
from core.errors import DomainError, NotFound
from core.ui import form_error, page
from organizations.models import Role
from organizations.selectors import has_role, member_union

from . import selectors, services
from .forms import ApplicationForm, ObjectionForm, is_chair
from .models import NOTICE_AID_TYPES, Category, HardshipApplication, Kind


def may_apply(user):
    """Members apply for themselves; chairs for the members of their union."""
    return member_union(user) is not None or is_chair(user)


@page("apply")
def apply(request):
    allowed = may_apply(request.user)
    form = ApplicationForm(request.POST or None, user=request.user)
    if request.method == "POST" and allowed and form.is_valid():
        try:
            case = services.submit_application(user=request.user, **form.cleaned_data)
            messages.success(
                request,
                _("Your application %(number)s has been submitted.") % {"number": case.number},
            )
            return redirect("case-detail", pk=case.pk)
        except DomainError as exc:
            form_error(request, form, exc)
    return render(
        request,
        "hardship/apply.html",
        {"form": form, "allowed": allowed},
    )


def _on_notice(case, record):
    """The case's public notice (of the application, or of a proposed closure) runs now."""
    return (
        case.status == CaseStatus.IN_PROGRESS
        and record.notice_ends_at is not None
        and record.notice_ends_at > timezone.now()
        and CaseTask.objects.filter(
            case=case,
            flow_task__endswith=f".{services.NOTICE_STEP[record.kind]}",
            status=STATUS.SCHEDULED,
        ).exists()
    )


def may_object(user, case, record, *, on_notice=None):
    """The form is offered to members of the applicant's union (not the applicant or whoever
    submitted for them) while the notice runs; the service checks again."""
    return (
        user.pk not in (case.applicant_id, case.submitted_by_id)
        and has_role(user, Role.MEMBER, case.organization)
        and (_on_notice(case, record) if on_notice is None else on_notice)
    )


def _record(case):
    record = getattr(case, "hardship", None)
    if record is None:
        record = HardshipApplication.objects.select_related("register_entry").get(case=case)
    return record


def panel(request, case, *, objection_form=None):
    """The hardship section of the case page (and of its task pages)."""
    record = _record(case)
    on_notice = _on_notice(case, record)
    objection = None
    if may_object(request.user, case, record, on_notice=on_notice):
        objection = objection_form or ObjectionForm(
            auto_id="id_objection_%s", review=record.is_review
        )
    return {
        "template": "hardship/panel.html",
        "record": record,
        "proposed_category": Category(record.proposed_category).label,
        "approved_category": (
            Category(record.approved_category).label if record.approved_category else ""
        ),
        "on_notice": on_notice,
        "notice_expected": record.kind == Kind.APPLICATION
        and record.aid_type in NOTICE_AID_TYPES
        and case.status == CaseStatus.IN_PROGRESS,
        "objection_form": objection,
        "entry": record.register_entry,
        # Only members have notices to read (those of their own union).
        "notices_link": member_union(request.user) is not None,
        "attachments": attachment_views.section(request, case),
    }


@require_safe
@page("notices")
def notices(request):
    """公示: the applications of my union(s) now on public notice."""
    rows = list(selectors.notices_for(request.user)[:200])
    return render(request, "hardship/notices.html", {"notices": rows})


@page("notices")
def notice(request, pk):
    """One application on public notice, as the notice shows it to the members of the union,
    with the objection form. POST lodges the objection (also from the case page's form);
    afterwards the objector returns to the case page when they may see it, else the list."""
    listed = selectors.notices_for(request.user).filter(case_id=pk).first()
    form = ObjectionForm(
        request.POST or None,
        auto_id="id_objection_%s",
        review=listed is not None and listed.is_review,
    )
    if request.method == "POST" and form.is_valid():
        try:
            objection = services.lodge_objection(
                case_id=pk, user=request.user, reason=form.cleaned_data["reason"]
            )
        except NotFound as exc:
            raise Http404 from exc
        except DomainError as exc:
            form_error(request, form, exc)
        else:
            if services.record_of(objection.case).is_review:
                done = _("Your objection has been recorded; the register entry is reviewed again.")
            else:
                done = _(
                    "Your objection has been recorded; the application goes back to the home "
                    "investigation."
                )
            messages.success(request, done)
            if case_in_reach(request.user, pk) is not None:
                return redirect("case-detail", pk=pk)
            return redirect("hardship-notices")
    in_reach = case_in_reach(request.user, pk)
    if request.method == "POST" and request.POST.get("from") == "case" and in_reach is not None:
        # Refused from the case page: shown again there, the reason next to the field.
        from cases.views import case_context

        context = case_context(request, in_reach)
        context["panel"] = panel(request, in_reach, objection_form=form)
        return render(request, "cases/case_detail.html", context)
    record = (
        listed
        if request.method != "POST"
        else selectors.notices_for(request.user).filter(case_id=pk).first()
    )
    if record is None:
        if request.method != "POST":
            raise Http404
        # The notice ended (or was stopped) while the member was writing.
        for error in form.non_field_errors():
            messages.error(request, error)
        if in_reach is not None:
            return redirect("case-detail", pk=pk)
        return redirect("hardship-notices")
    case = record.case
    return render(
        request,
        "hardship/notice.html",
        {
            "record": record,
            "case": case,
            "category": Category(record.notice_category).label,
            "form": form if may_object(request.user, case, record) else None,
            "in_reach": in_reach is not None,
        },
    )
