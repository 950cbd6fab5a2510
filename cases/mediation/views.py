"""Pages of labor-dispute mediation: the application form, and the mediation section of the
case page — the statutory term, the mediator, sessions, the agreement with its signatures and
seal (or its withdrawal), the written documents, recusal and extensions — with the forms of
whoever may act.

Every write goes through cases.mediation.services (the same as the API); the services check
permission and state again, the page only decides which forms to offer. The decisions of the
steps (acceptance, assignment, outcome, performance) are taken on the generic task page."""

from datetime import date, datetime
from functools import wraps

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from approvals.calendar import local_date
from approvals.models import OPEN_STATUSES, CaseTask
from cases.models import CaseStatus
from cases.selectors import case_in_reach
from core.config import parameter
from core.errors import DomainError
from core.ui import form_error, once, page, refuse
from organizations.models import Organization, Role, User
from organizations.selectors import has_role, memberships_of, users_with_role

from . import pdf, rules, selectors, services
from .api import MediationDetailsSerializer
from .forms import (
    AgreementWithdrawalForm,
    ApplicationForm,
    ExtensionForm,
    RecusalDecisionForm,
    RecusalRequestForm,
    SessionForm,
    SignatureForm,
)
from .models import Category, Channel, DeclineReason, MediationCase, Outcome, Party, Performance

# --- the application ------------------------------------------------------------------------


def _rooms(user):
    """The mediation organizations (those with a mediation head) the user may file with: the
    ones that serve a union where they are a member, and the ones where they are a mediator
    (services.submit_application refuses any other)."""
    mediator_of = {m.organization_id for m in memberships_of(user) if m.role == Role.MEDIATOR}
    rooms = Organization.objects.filter(
        memberships__role=Role.MEDIATION_HEAD, memberships__user__is_active=True
    ).distinct()
    return [room.pk for room in rooms if room.pk in mediator_of or rules.serves(room, user)]


def _is_recorder(user):
    return any(m.role == Role.MEDIATOR for m in memberships_of(user))


def may_apply(user):
    """Members file their own applications; mediators record them for workers."""
    return any(m.role in (Role.MEMBER, Role.MEDIATOR) for m in memberships_of(user))


@page("apply")
def apply(request):
    """Apply for mediation: a member in writing; a mediator recording a worker's application
    (oral, or written on their behalf)."""
    user = request.user
    rooms = Organization.objects.filter(pk__in=_rooms(user)).order_by("path")
    recorder = _is_recorder(user)
    channels = [Channel.WRITTEN, Channel.ORAL] if recorder else [Channel.WRITTEN]
    initial = {"channel": Channel.WRITTEN, "worker_count": 1}
    if not recorder:
        # A member files for themselves: what their profile knows.
        initial.update(applicant_name=user.full_name, applicant_phone=user.phone)
    form = ApplicationForm(
        request.POST or None,
        organizations=rooms,
        channels=channels,
        recorder=recorder,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        values = form.values()
        try:

            def file():
                case = services.submit_application(
                    user=user,
                    organization=values.pop("organization"),
                    applicant_username=values.pop("applicant_username", "") or None,
                    **values,
                )
                messages.success(
                    request,
                    _("Your application %(number)s has been filed.") % {"number": case.number},
                )
                return reverse("case-detail", kwargs={"pk": case.pk})

            return redirect(once(request, form, file))
        except DomainError as exc:
            form_error(request, form, exc)
    return render(
        request,
        "mediation/apply.html",
        {
            "form": form,
            "recorder": recorder,
            "has_rooms": rooms.exists(),
            "min_workers": rules.collective_min_workers(None),
            "statutory_days": int(parameter("mediation.statutory_days")),
        },
    )


# --- the case page panel ------------------------------------------------------------------


class CasePageFields(MediationDetailsSerializer):
    """The API's mediation details serializer, with a declared field for each key so that the
    case page can label its field list (and show choices by their labels). The values — and so
    the API's JSON — are the parent's, unchanged. Times, the term and the structured parts are
    shown by the mediation panel instead (write_only keeps them out of the generic list)."""

    channel = serializers.ChoiceField(Channel.choices, label=gettext_lazy("Channel"))
    recorded_on_behalf = serializers.BooleanField(
        label=gettext_lazy("Recorded by a mediator for the worker")
    )
    applicant_name = serializers.CharField(label=gettext_lazy("Applicant's name"))
    applicant_id_number = serializers.CharField(label=gettext_lazy("Applicant's ID number"))
    applicant_phone = serializers.CharField(label=gettext_lazy("Applicant's phone"))
    applicant_name_differs = serializers.BooleanField(write_only=True)  # in the panel
    employer_name = serializers.CharField(label=gettext_lazy("Employer"))
    employer_credit_code = serializers.CharField(
        label=gettext_lazy("Employer's unified social credit code")
    )
    category = serializers.ChoiceField(Category.choices, label=gettext_lazy("Kind of dispute"))
    claim_amount = serializers.CharField(label=gettext_lazy("Amount claimed (CNY)"))
    facts = serializers.CharField(label=gettext_lazy("Facts and claim"))
    known_on = serializers.CharField(label=gettext_lazy("Knew of the infringement on"))
    worker_count = serializers.IntegerField(label=gettext_lazy("Number of workers"))
    collective = serializers.BooleanField(label=gettext_lazy("Collective case"))
    mediation_outcome = serializers.ChoiceField(
        [
            (Outcome.AGREEMENT.value, Outcome.AGREEMENT.label),
            (Outcome.NO_AGREEMENT.value, Outcome.NO_AGREEMENT.label),
        ],
        label=gettext_lazy("Outcome of mediation"),
    )
    # In the panel.
    representatives = serializers.JSONField(write_only=True)
    received_at = serializers.CharField(write_only=True)
    acceptance_due_at = serializers.CharField(write_only=True)
    statutory_deadline = serializers.CharField(write_only=True)
    limitation_flag = serializers.BooleanField(write_only=True)
    accepted_at = serializers.CharField(write_only=True)
    decline_reason = serializers.CharField(write_only=True)
    decline_text = serializers.CharField(write_only=True)
    mediator = serializers.JSONField(write_only=True)
    assigned_at = serializers.CharField(write_only=True)
    sessions = serializers.JSONField(write_only=True)
    agreement = serializers.JSONField(write_only=True)
    extensions = serializers.JSONField(write_only=True)
    expired_at = serializers.CharField(write_only=True)
    notice = serializers.JSONField(write_only=True)


def _moment(value):
    """A time kept as ISO text in the record's JSON, as an aware datetime for templates."""
    return datetime.fromisoformat(value) if value else None


def _open_steps(case):
    tasks = CaseTask.objects.filter(
        case=case, flow_task_type="HUMAN", status__in=OPEN_STATUSES
    ).order_by("pk")
    steps = {}
    for task in tasks:
        steps.setdefault(task.flow_task.name, task)
    return steps


def _signature_rows(record):
    rows = []
    for party in Party:
        given = record.signatures.get(party.value)
        rows.append(
            {
                "party": party.value,
                "label": party.label,
                "signed_at": _moment(given["signed_at"]) if given else None,
                "recorded_at": _moment(given["recorded_at"]) if given else None,
                "recorded_by": given["recorded_by"] if given else "",
            }
        )
    return rows


def _extension_rows(record):
    """The term's extensions, each with who recorded it by name (the record keeps the
    username)."""
    usernames = {e["recorded_by"] for e in record.extensions}
    people = (
        {u.username: u for u in User.objects.filter(username__in=usernames)} if usernames else {}
    )
    return [
        {
            **e,
            "recorded_by": people.get(e["recorded_by"], e["recorded_by"]),
            "previous_deadline": _moment(e["previous_deadline"]),
            "new_deadline": _moment(e["new_deadline"]),
            "recorded_at": _moment(e["recorded_at"]),
        }
        for e in record.extensions
    ]


NOTICE_TITLES = {
    pdf.NOTICE_DECLINED: gettext_lazy("Notice of non-acceptance (PDF)"),
    pdf.NOTICE_NO_AGREEMENT: gettext_lazy("Notice of the end of mediation (PDF)"),
    pdf.NOTICE_EXPIRED: gettext_lazy("Notice of the end of mediation (PDF)"),
    pdf.NOTICE_NOT_PERFORMED: gettext_lazy("Notice on non-performance (PDF)"),
}


def panel(request, case):
    """The mediation section of the case page (cases.details panel)."""
    record = MediationCase.objects.select_related("mediator").filter(case=case).first()
    if record is None:
        return None
    user = request.user
    bound = getattr(request, "mediation_forms", {})
    now = timezone.now()
    in_progress = case.status == CaseStatus.IN_PROGRESS
    steps = _open_steps(case) if in_progress else {}
    head = services.is_head(user, case)
    mediation_task, signing_task = steps.get("mediation"), steps.get("signing")
    recusals = list(selectors.recusals_of(case))
    pending = next((r for r in recusals if r.status == "pending"), None)

    context = {
        "template": "mediation/panel.html",
        "case": case,
        "record": record,
        # Where the panel's forms come back to: this page — or, when an action shows the page
        # again with its errors, the page the form was sent from.
        "next": getattr(request, "mediation_next", None) or request.get_full_path(),
        "now": now,
        "in_progress": in_progress,
        "open_steps": sorted(steps),
        "decline_reason": DeclineReason(record.decline_reason).label
        if record.decline_reason
        else "",
        "term_running": in_progress and record.effective_at is None,
        "deadline_passed": record.effective_at is None and record.statutory_deadline < now,
        "days_left": (local_date(record.statutory_deadline) - timezone.localdate()).days,
        "limitation_months": rules.limitation_months(
            case.organization, local_date(record.received_at)
        ),
        "representatives": CasePageFields(record, context={"request": request}).data[
            "representatives"
        ],
        "sessions": [
            {**s, "date": date.fromisoformat(s["date"]), "recorded_at": _moment(s["recorded_at"])}
            for s in record.sessions
        ],
        "extensions": _extension_rows(record),
        "recusals": recusals,
        "pending_recusal": pending,
    }

    # The mediator to assign: the head sees who may mediate (the step's field is a username).
    if head and "assignment" in steps:
        context["candidates"] = [
            {"user": u, "problem": rules.mediator_problem(case, record, u)}
            for u in users_with_role(Role.MEDIATOR, case.organization).order_by("username")
        ]

    # Sessions: the assigned mediator while mediating, unless a recusal request waits.
    if (
        mediation_task is not None
        and services.acts_as_mediator(user, record, mediation_task)
        and pending is None
    ):
        context["session_form"] = bound.get("session") or SessionForm()

    # The agreement, its signatures and the seal.
    if record.mediation_outcome == Outcome.AGREEMENT:
        rows = _signature_rows(record)
        missing = rules.missing_signatures(record)
        may_sign = []
        if signing_task is not None:
            if services.acts_as_mediator(user, record, signing_task):
                may_sign += [p.value for p in services.PARTY_SIGNATURES if p.value in missing]
            if head and missing == [Party.SEAL.value]:
                may_sign.append(Party.SEAL.value)
        for row in rows:
            row["may_sign"] = row["party"] in may_sign
        context["agreement"] = {
            "terms": record.agreement_terms,
            "amount": record.agreement_amount,
            "performance_deadline": record.performance_deadline,
            "performance_method": record.performance_method,
            "recorded_at": record.outcome_recorded_at,
            "signatures": rows,
            "missing": [Party(p).label for p in missing],
            "effective_at": record.effective_at,
            "arbitral_review_until": record.arbitral_review_until,
            "performance": Performance(record.performance).label if record.performance else "",
            "performance_note": record.performance_note,
            "pdf": reverse("mediation-agreement", kwargs={"pk": case.pk}),
        }
        context["seal_waits"] = (
            signing_task is not None and head and Party.SEAL.value in missing and len(missing) > 1
        )
        # Everyone else who follows the signing (the mediator above all) learns who seals.
        context["seal_by_head"] = (
            signing_task is not None and not head and Party.SEAL.value in missing
        )
        if may_sign:
            context["signature_form"] = bound.get("signature") or SignatureForm(parties=may_sign)
        # The mediator withdraws it while a party's or their own signature is missing.
        if (
            signing_task is not None
            and services.acts_as_mediator(user, record, signing_task)
            and any(p.value in missing for p in services.PARTY_SIGNATURES)
        ):
            context["withdrawal_form"] = (
                bound.get("agreement_withdrawal") or AgreementWithdrawalForm()
            )
    officer = head or has_role(user, Role.MEDIATOR, case.organization)
    notice = pdf.notice_kind(case, record)
    if notice is not None:
        context["notice"] = {"title": NOTICE_TITLES[notice], "url": services.notice_url(case)}
        # The room hands or sends the employer its copy (it has no account).
        if officer and notice in pdf.NOTICES_TO_BOTH_PARTIES:
            context["notice"]["employer_url"] = services.notice_url(case, party=Party.EMPLOYER)

    # Recusal: a party asks while the mediator mediates; the head decides.
    worker = rules.is_worker(user, case, record)
    if (
        mediation_task is not None
        and record.mediator_id is not None
        and pending is None
        and (worker or officer)
    ):
        context["recusal_form"] = bound.get("recusal") or RecusalRequestForm(
            worker_only=not officer
        )
    if head and pending is not None:
        context["recusal_decision_form"] = bound.get("recusal_decision") or RecusalDecisionForm()

    # Extending the term: both parties' consent, recorded by the mediator or the head.
    if (
        in_progress
        and record.accepted_at is not None
        and record.effective_at is None
        and record.statutory_deadline >= now
        and (head or services.acts_as_mediator(user, record))
    ):
        context["extension_form"] = bound.get("extension") or ExtensionForm(
            deadline=local_date(record.statutory_deadline)
        )
    return context


# --- the panel's actions --------------------------------------------------------------------


def posted(view):
    """An action answers POST. A GET of its address (the page shown again after an error,
    then reloaded, or the language switched) goes to the case page instead."""

    @wraps(view)
    def wrapper(request, pk, *args, **kwargs):
        if request.method != "POST":
            return redirect("case-detail", pk=pk)
        return view(request, pk, *args, **kwargs)

    return wrapper


def _case_or_404(request, pk):
    case = case_in_reach(request.user, pk)
    if case is None or case.process != services.PROCESS:
        raise Http404
    return case


def _back(request, case):
    """Back to the page the form was on (the case page, or the task page showing the same
    panel), if it is one of ours."""
    url = request.POST.get("next", "")
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse("case-detail", kwargs={"pk": case.pk})


def _act(request, case, *, name, form, act, success, only_once=False):
    """Validate `form`, run `act(cleaned_data)` through the service, and go back with a
    message. Bad input shows the case page again with the errors next to the fields; a refusal
    without a field (not allowed, wrong state) shows it with the message at the top. Either
    answers with the refusal's status."""
    from cases.views import case_context

    if form.is_valid():
        try:

            def run():
                act(form.cleaned_data)
                messages.success(
                    request, success(form.cleaned_data) if callable(success) else success
                )
                return _back(request, case)

            return redirect(once(request, form, run) if only_once else run())
        except DomainError as exc:
            if exc.fields:
                form_error(request, form, exc)
            else:
                refuse(request, exc)
    request.mediation_forms = {name: form}
    request.mediation_next = _back(request, case)
    return render(request, "cases/case_detail.html", case_context(request, case))


@posted
@page("cases")
def record_session(request, pk):
    case = _case_or_404(request, pk)
    return _act(
        request,
        case,
        name="session",
        form=SessionForm(request.POST),
        act=lambda v: services.record_session(
            case_id=case.pk,
            user=request.user,
            date=v["date"],
            attendees=v["attendees"],
            notes=v["notes"],
        ),
        success=_("The session has been recorded."),
        only_once=True,
    )


@posted
@page("cases")
def record_signature(request, pk):
    case = _case_or_404(request, pk)
    form = SignatureForm(request.POST)

    def act(values):
        services.record_signature(
            case_id=case.pk,
            user=request.user,
            party=values["party"],
            signed_at=values["signed_at"],
        )

    return _act(
        request,
        case,
        name="signature",
        form=form,
        act=act,
        success=lambda v: _("Recorded: %(party)s.") % {"party": Party(v["party"]).label},
    )


@posted
@page("cases")
def withdraw_agreement(request, pk):
    case = _case_or_404(request, pk)
    return _act(
        request,
        case,
        name="agreement_withdrawal",
        form=AgreementWithdrawalForm(request.POST),
        act=lambda v: services.withdraw_agreement(
            case_id=case.pk, user=request.user, reason=v["reason"]
        ),
        success=_("The agreement has been withdrawn; the case is back in mediation."),
        only_once=True,
    )


@posted
@page("cases")
def record_extension(request, pk):
    case = _case_or_404(request, pk)
    return _act(
        request,
        case,
        name="extension",
        form=ExtensionForm(request.POST),
        act=lambda v: services.record_extension(
            case_id=case.pk,
            user=request.user,
            worker_consent=v["worker_consent"],
            employer_consent=v["employer_consent"],
            until=v["until"],
            days=v["days"],
            note=v["note"],
        ),
        success=_("The statutory term has been extended."),
        only_once=True,
    )


@posted
@page("cases")
def request_recusal(request, pk):
    case = _case_or_404(request, pk)
    return _act(
        request,
        case,
        name="recusal",
        form=RecusalRequestForm(request.POST),
        act=lambda v: services.request_recusal(
            case_id=case.pk, user=request.user, party=v["party"], reason=v["reason"]
        ),
        success=_("The recusal request has been recorded; the mediation head decides."),
        only_once=True,
    )


@posted
@page("cases")
def decide_recusal(request, pk, rid):
    case = _case_or_404(request, pk)
    return _act(
        request,
        case,
        name="recusal_decision",
        form=RecusalDecisionForm(request.POST),
        act=lambda v: services.decide_recusal(
            case_id=case.pk,
            recusal_id=rid,
            user=request.user,
            decision=v["decision"],
            comment=v["comment"],
        ),
        success=_("The recusal request has been decided."),
    )
