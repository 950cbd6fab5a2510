"""Mediation API: file an application, record sessions, signatures, extensions and recusal
requests, withdraw an agreement awaiting signatures, and download the written documents. Deciding steps (accept/decline, assign,
outcome, performance) goes through the generic task API (`/api/v1/tasks/{id}/complete/`)."""

import json

from django.http import HttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers
from rest_framework.response import Response
from rest_framework.views import APIView
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumError

from cases.api import CaseSerializer, with_open_tasks
from cases.identifiers import InvalidResidentId, resident_id
from cases.selectors import case_in_reach, cases_in_reach
from core.api import idempotent
from core.errors import Conflict, Invalid, NotFound
from core.rest import ErrorSerializer
from core.sensitive import mask
from organizations.api import UserRefSerializer
from organizations.models import Organization

from . import pdf, rules, selectors, services
from .models import Category, Channel, MediationCase, Outcome, Party, RecusalStatus

ERRORS = dict.fromkeys((400, 403, 404, 409), ErrorSerializer)
TAGS = ["mediation"]


# --- the case JSON ---------------------------------------------------------------------------


class MediationDetailsSerializer(serializers.Serializer):
    """The mediation fields of a case's JSON. Reads only the record and its mediator (joined
    with the case) and the viewer's cached memberships: no query per case."""

    def to_representation(self, record):
        case = record.case
        request = self.context.get("request")
        reveal = selectors.sees_identity(getattr(request, "user", None), case)

        def hidden(value, **kwargs):
            return value if reveal else mask(value, **kwargs)

        mediator = record.mediator
        agreement = None
        if record.mediation_outcome == Outcome.AGREEMENT:
            agreement = {
                "terms": record.agreement_terms,
                "amount": _money(record.agreement_amount),
                "performance_deadline": _iso(record.performance_deadline),
                "performance_method": record.performance_method,
                "recorded_at": _iso(record.outcome_recorded_at),
                "signatures": {p.value: record.signatures.get(p.value) for p in Party},
                "effective": record.effective_at is not None,
                "effective_at": _iso(record.effective_at),
                "arbitral_review_until": _iso(record.arbitral_review_until),
                "performance": record.performance or None,
                "performance_note": record.performance_note,
                "performance_recorded_at": _iso(record.performance_recorded_at),
                "pdf": reverse("mediation-agreement", kwargs={"pk": case.pk}),
            }
        notice = pdf.notice_kind(case, record)
        return {
            "channel": record.channel,
            "recorded_on_behalf": record.recorded_on_behalf,
            "applicant_name": record.applicant_name,
            "applicant_id_number": hidden(record.applicant_id_number),
            "applicant_phone": hidden(record.applicant_phone, keep_start=3, keep_end=4),
            "applicant_name_differs": record.applicant_name_differs,
            "employer_name": record.employer_name,
            "employer_credit_code": record.employer_credit_code,
            "category": record.category,
            "claim_amount": _money(record.claim_amount),
            "facts": record.facts,
            "known_on": _iso(record.known_on),
            "worker_count": record.worker_count,
            "collective": bool(record.representatives),
            "representatives": [
                {"name": r["name"], "phone": hidden(r["phone"], keep_start=3, keep_end=4)}
                for r in record.representatives
            ],
            "received_at": _iso(record.received_at),
            "acceptance_due_at": _iso(record.acceptance_due_at),
            "statutory_deadline": _iso(record.statutory_deadline),
            "limitation_flag": record.limitation_flag,
            "accepted_at": _iso(record.accepted_at),
            "decline_reason": record.decline_reason or None,
            "decline_text": record.decline_text,
            "mediator": (
                {"id": mediator.pk, "username": mediator.username, "name": mediator.display_name}
                if mediator
                else None
            ),
            "assigned_at": _iso(record.assigned_at),
            "sessions": record.sessions,
            "mediation_outcome": record.mediation_outcome or None,
            "agreement": agreement,
            "extensions": record.extensions,
            "expired_at": _iso(record.expired_at),
            "notice": (
                {
                    "kind": notice,
                    "pdf": services.notice_url(case),
                    "employer_pdf": (
                        services.notice_url(case, party=Party.EMPLOYER)
                        if notice in pdf.NOTICES_TO_BOTH_PARTIES
                        else None
                    ),
                }
                if notice is not None
                else None
            ),
        }


_MOMENT = serializers.DateTimeField()


def _iso(value):
    """Dates as ISO dates; times as the rest of the API renders them (local, with offset)."""
    if value is None:
        return None
    if hasattr(value, "tzinfo"):
        return _MOMENT.to_representation(value)
    return value.isoformat()


def _money(value):
    return None if value is None else str(value)


def mediation_case_response(request, case, status=200):
    """The case as the caller sees it — with the caller known, so identifiers are shown
    whole only to those who may see them."""
    case = with_open_tasks(cases_in_reach(request.user)).get(pk=case.pk)
    return Response(CaseSerializer(case, context={"request": request}).data, status=status)


# --- filing an application -----------------------------------------------------------------


def _phone(value):
    problem = rules.phone_problem(value)
    if problem:
        raise serializers.ValidationError(problem)
    return value.strip()


class RepresentativeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")

    def validate_phone(self, value):
        return _phone(value) if value.strip() else ""


class ApplicationSerializer(serializers.Serializer):
    organization = serializers.PrimaryKeyRelatedField(
        queryset=Organization.objects.all(),
        help_text="the mediation organization (town federation)",
    )
    channel = serializers.ChoiceField(choices=Channel.choices)
    applicant_username = serializers.CharField(
        max_length=150,
        required=False,
        allow_blank=True,
        help_text="recorded by a mediator: the worker's account, if they have one",
    )
    applicant_name = serializers.CharField(max_length=100)
    applicant_id_number = serializers.CharField(max_length=30, help_text="居民身份证号码")
    applicant_phone = serializers.CharField(
        max_length=20, help_text="at least 7 digits; spaces, + and - may separate them"
    )
    employer_name = serializers.CharField(max_length=200)
    employer_credit_code = serializers.CharField(max_length=30, help_text="统一社会信用代码")
    category = serializers.ChoiceField(choices=Category.choices)
    claim_amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    facts = serializers.CharField(max_length=10000)
    known_on = serializers.DateField(help_text="when the worker knew of the infringement")
    worker_count = serializers.IntegerField(min_value=1, max_value=100000, default=1)
    representatives = RepresentativeSerializer(many=True, required=False, default=list)

    # Identifier and date checks here report every bad field at once; the service applies
    # the same rules for any other caller.
    def validate_applicant_id_number(self, value):
        try:
            return resident_id(value)
        except InvalidResidentId as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def validate_applicant_phone(self, value):
        return _phone(value)

    def validate_employer_credit_code(self, value):
        try:
            return uscc.validate(value)
        except StdnumError as exc:
            raise serializers.ValidationError(_("Not a valid unified social credit code.")) from exc

    def validate_known_on(self, value):
        if value > timezone.localdate():
            raise serializers.ValidationError(_("Cannot be in the future."))
        return value


class MediationCases(APIView):
    """File a mediation application (member, in writing) or record one for a worker
    (mediator of the organization: oral or written)."""

    @extend_schema(
        tags=TAGS,
        request=ApplicationSerializer,
        responses={201: CaseSerializer, **ERRORS},
    )
    @idempotent
    def post(self, request):
        body = ApplicationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        case = services.submit_application(
            user=request.user,
            organization=values.pop("organization"),
            applicant_username=values.pop("applicant_username", "") or None,
            **values,
        )
        return mediation_case_response(request, case, status=201)


# --- recording on a case ----------------------------------------------------------------------


class SessionSerializer(serializers.Serializer):
    date = serializers.DateField()
    attendees = serializers.ListField(
        child=serializers.CharField(max_length=100), min_length=1, max_length=50
    )
    notes = serializers.CharField(max_length=10000)


class SignatureSerializer(serializers.Serializer):
    party = serializers.ChoiceField(choices=Party.choices)
    signed_at = serializers.DateTimeField(
        required=False, help_text="when it was signed on paper; default now"
    )


class ExtensionSerializer(serializers.Serializer):
    worker_consent = serializers.BooleanField()
    employer_consent = serializers.BooleanField()
    until = serializers.DateField(required=False, help_text="the new last day of the term")
    days = serializers.IntegerField(
        required=False, min_value=1, max_value=366, help_text="or: days added to the term"
    )
    note = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="how consent was given",
    )


class AgreementWithdrawalSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=5000, help_text="why it is withdrawn, e.g. which party refuses to sign"
    )


class _CaseAction(APIView):
    def body(self, serializer_class):
        body = serializer_class(data=self.request.data)
        body.is_valid(raise_exception=True)
        return body.validated_data


class Sessions(_CaseAction):
    """A mediation session: date, attendees, notes (the assigned mediator, while mediating)."""

    @extend_schema(
        tags=TAGS,
        request=SessionSerializer,
        responses={201: CaseSerializer, **ERRORS},
    )
    @idempotent
    def post(self, request, pk):
        case = services.record_session(
            case_id=pk, user=request.user, **self.body(SessionSerializer)
        )
        return mediation_case_response(request, case, status=201)


class Signatures(_CaseAction):
    """A signature on the agreement: `worker`, `employer` and `mediator` are recorded by the
    assigned mediator (they sign the paper in the room), the `seal` is applied by the
    mediation head after them. The last one makes the agreement effective."""

    @extend_schema(
        tags=TAGS,
        request=SignatureSerializer,
        responses={201: CaseSerializer, **ERRORS},
    )
    @idempotent
    def post(self, request, pk):
        case = services.record_signature(
            case_id=pk, user=request.user, **self.body(SignatureSerializer)
        )
        return mediation_case_response(request, case, status=201)


class WithdrawAgreement(_CaseAction):
    """Withdraw the agreement awaiting signatures (the assigned mediator), e.g. when a party
    refuses to sign it: it is void with the signatures given so far, and the case goes back to
    mediation for a new outcome; the parties are told. 409 once both parties and the mediator
    have signed it, once it is in effect, or when no agreement awaits signatures."""

    @extend_schema(
        tags=TAGS,
        request=AgreementWithdrawalSerializer,
        responses={200: CaseSerializer, **ERRORS},
    )
    def post(self, request, pk):
        case = services.withdraw_agreement(
            case_id=pk, user=request.user, **self.body(AgreementWithdrawalSerializer)
        )
        return mediation_case_response(request, case)


class Extensions(_CaseAction):
    """Extend the statutory term: both parties' consent recorded, a new last day (`until`)
    or a number of `days`. The mediator or the mediation head records it."""

    @extend_schema(
        tags=TAGS,
        request=ExtensionSerializer,
        responses={201: CaseSerializer, **ERRORS},
    )
    @idempotent
    def post(self, request, pk):
        case = services.record_extension(
            case_id=pk, user=request.user, **self.body(ExtensionSerializer)
        )
        return mediation_case_response(request, case, status=201)


# --- recusal ------------------------------------------------------------------------------------


class RecusalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    mediator = UserRefSerializer()
    party = serializers.CharField()
    reason = serializers.CharField()
    requested_by = UserRefSerializer()
    requested_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=RecusalStatus.choices)
    decided_by = UserRefSerializer(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_comment = serializers.CharField()


class RecusalRequestSerializer(serializers.Serializer):
    party = serializers.ChoiceField(
        choices=[
            (Party.WORKER.value, Party.WORKER.label),
            (Party.EMPLOYER.value, Party.EMPLOYER.label),
        ]
    )
    reason = serializers.CharField(max_length=5000)


class RecusalDecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[("grant", "grant"), ("refuse", "refuse")])
    comment = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        default="",
        help_text="required to refuse",
    )


def _case_or_404(request, pk):
    case = case_in_reach(request.user, pk)
    if case is None or case.process != services.PROCESS:
        raise NotFound()
    return case


class Recusals(_CaseAction):
    """回避: the case's recusal requests; POST asks that the mediator step aside (the worker,
    or a mediator/head recording a party's request)."""

    @extend_schema(tags=TAGS, responses={200: RecusalSerializer(many=True), 404: ErrorSerializer})
    def get(self, request, pk):
        recusals = selectors.recusals_of(_case_or_404(request, pk))
        return Response(RecusalSerializer(recusals, many=True).data)

    @extend_schema(
        tags=TAGS,
        request=RecusalRequestSerializer,
        responses={201: RecusalSerializer, **ERRORS},
    )
    @idempotent
    def post(self, request, pk):
        recusal = services.request_recusal(
            case_id=pk, user=request.user, **self.body(RecusalRequestSerializer)
        )
        return Response(RecusalSerializer(recusal).data, status=201)


class DecideRecusal(_CaseAction):
    """The mediation head grants (the case goes back to assignment) or refuses."""

    @extend_schema(
        tags=TAGS, request=RecusalDecisionSerializer, responses={200: RecusalSerializer, **ERRORS}
    )
    def post(self, request, pk, rid):
        recusal = services.decide_recusal(
            case_id=pk, recusal_id=rid, user=request.user, **self.body(RecusalDecisionSerializer)
        )
        return Response(RecusalSerializer(recusal).data)


# --- documents --------------------------------------------------------------------------------


class PDFRenderer(renderers.BaseRenderer):
    """Lets a client ask for `Accept: application/pdf` (or `?format=pdf`); the documents
    themselves are sent as they are, and errors as JSON (`_Document.finalize_response`)."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data, ensure_ascii=False).encode()


PDF_RESPONSES = {
    (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
    404: ErrorSerializer,
    409: ErrorSerializer,
}


def _pdf(content, filename):
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


class _Document(APIView):
    renderer_classes = [renderers.JSONRenderer, PDFRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.status_code >= 400:
            # A client that asked for the PDF gets the refusal as what it is, labelled JSON.
            response.accepted_renderer = renderers.JSONRenderer()
            response.accepted_media_type = "application/json"
        return response

    def record(self, request, pk):
        case = _case_or_404(request, pk)
        return case, MediationCase.objects.select_related("mediator").get(case=case)


class NoticePdf(_Document):
    """The written notice the parties are due: decline, end without agreement, end past the
    statutory term, or non-performance of the agreement (409 while there is none). The
    worker's copy by default; `?party=employer` the employer's, for the first three (the
    non-performance notice tells the worker only)."""

    @extend_schema(
        tags=TAGS,
        operation_id="mediation_notice_pdf",
        parameters=[
            OpenApiParameter(
                "party",
                str,
                enum=[Party.WORKER.value, Party.EMPLOYER.value],
                description="whose copy (default: worker)",
            )
        ],
        responses={**PDF_RESPONSES, 400: ErrorSerializer},
    )
    def get(self, request, pk):
        case, record = self.record(request, pk)
        party = request.query_params.get("party") or Party.WORKER.value
        if party not in (Party.WORKER, Party.EMPLOYER):
            raise Invalid(_("Unknown party."), fields={"party": [_("Choose worker or employer.")]})
        kind = pdf.notice_kind(case, record)
        if kind is None:
            raise Conflict(_("This case has no written notice (yet)."), code="no_notice")
        if party == Party.EMPLOYER and kind not in pdf.NOTICES_TO_BOTH_PARTIES:
            raise Invalid(
                _("This notice is addressed to the worker only."),
                fields={"party": [_("This notice is addressed to the worker only.")]},
            )
        suffix = "" if party == Party.WORKER else f"-{party}"
        return _pdf(pdf.notice_pdf(case, record, party=party), f"{case.number}-notice{suffix}.pdf")


class AgreementPdf(_Document):
    """调解协议书: printable for signing once recorded, with the signatures once given."""

    @extend_schema(tags=TAGS, operation_id="mediation_agreement_pdf", responses=PDF_RESPONSES)
    def get(self, request, pk):
        case, record = self.record(request, pk)
        if record.mediation_outcome != Outcome.AGREEMENT:
            raise Conflict(_("No agreement has been recorded in this case."), code="no_agreement")
        content = pdf.agreement_pdf(
            case, record, reveal_identity=selectors.sees_identity(request.user, case)
        )
        return _pdf(content, f"{case.number}-agreement.pdf")


urlpatterns = [
    path("mediation-cases/", MediationCases.as_view(), name="mediation-case-list"),
    path("mediation-cases/<int:pk>/sessions/", Sessions.as_view(), name="mediation-sessions"),
    path("mediation-cases/<int:pk>/signatures/", Signatures.as_view(), name="mediation-signatures"),
    path(
        "mediation-cases/<int:pk>/agreement/withdraw/",
        WithdrawAgreement.as_view(),
        name="mediation-agreement-withdraw",
    ),
    path("mediation-cases/<int:pk>/extensions/", Extensions.as_view(), name="mediation-extensions"),
    path("mediation-cases/<int:pk>/recusals/", Recusals.as_view(), name="mediation-recusals"),
    path(
        "mediation-cases/<int:pk>/recusals/<int:rid>/decide/",
        DecideRecusal.as_view(),
        name="mediation-recusal-decide",
    ),
    path("mediation-cases/<int:pk>/notice.pdf", NoticePdf.as_view(), name="mediation-notice"),
    path(
        "mediation-cases/<int:pk>/agreement.pdf", AgreementPdf.as_view(), name="mediation-agreement"
    ),
]
