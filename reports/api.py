"""Reports API: the summary of figures, the cases behind each figure, exports (directly for small
files, as background jobs for long ones) and the last full verification of the trails.

Figures and the cases behind them: every count of the summary has a `figure` key (see
reports.selectors.FIGURES) and GET /api/v1/reports/cases/?figure=<key>&from=&to=&organization=
(with the figure's options: process, status, outcome, aid_type, category, mediation_category,
step) lists exactly the cases it counts."""

from django.http import FileResponse, HttpResponse
from django.urls import path
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from cases.api import CaseSerializer, with_open_tasks
from cases.models import Case
from core.api import idempotent
from core.errors import Forbidden, NotFound
from core.rest import ErrorSerializer

from . import params as report_params
from . import selectors, services
from .models import ExportJob, TrailVerification

TAGS = ["reports"]
MONEY = {"max_digits": 16, "decimal_places": 2}
ERRORS = {400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}

PERIOD_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="first day (default: 1 January)"),
    OpenApiParameter(
        "to", OpenApiTypes.DATE, description="last day, inclusive (default: 31 December)"
    ),
    OpenApiParameter(
        "organization",
        int,
        description="organization id (its subtree; default: the top of your reach)",
    ),
]
FIGURE_PARAMETERS = [
    OpenApiParameter("figure", str, description="a figure key, e.g. hardship.disbursed"),
    OpenApiParameter("process", str, enum=selectors.PROCESSES),
    OpenApiParameter("status", str),
    OpenApiParameter("outcome", str),
    OpenApiParameter("aid_type", str),
    OpenApiParameter("category", str, description="hardship category"),
    OpenApiParameter("mediation_category", str),
    OpenApiParameter("step", str, description="process.step, e.g. hardship.town_review"),
]
CASE_FILTER_PARAMETERS = [
    OpenApiParameter("q", str, description="number, title or applicant"),
    OpenApiParameter("overdue", bool),
]


# --- the summary ---------------------------------------------------------------------------


class OrganizationOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class PeriodOut(serializers.Serializer):
    as_of = serializers.DateTimeField(
        help_text="the moment in-progress and overdue figures are counted at"
    )

    def get_fields(self):
        # `from` is a Python keyword, so the two dates are added here.
        fields = super().get_fields()
        return {"from": serializers.DateField(), "to": serializers.DateField(), **fields}


class FinishedByStatusOut(serializers.Serializer):
    approved = serializers.IntegerField()
    closed = serializers.IntegerField()
    rejected = serializers.IntegerField()
    withdrawn = serializers.IntegerField()


class ProcessOut(serializers.Serializer):
    process = serializers.CharField()
    opened = serializers.IntegerField()
    finished = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    overdue = serializers.IntegerField()
    finished_by_status = FinishedByStatusOut()


class CountAmountOut(serializers.Serializer):
    cases = serializers.IntegerField()
    amount = serializers.DecimalField(**MONEY)


class AidTypeOut(serializers.Serializer):
    aid_type = serializers.CharField()
    households = serializers.IntegerField()
    approved_cases = serializers.IntegerField()
    approved_amount = serializers.DecimalField(**MONEY)
    disbursed_cases = serializers.IntegerField()
    disbursed_amount = serializers.DecimalField(**MONEY)


class HardshipCategoryOut(serializers.Serializer):
    category = serializers.CharField()
    households = serializers.IntegerField()
    disbursed_cases = serializers.IntegerField()
    disbursed_amount = serializers.DecimalField(**MONEY)


class HardshipOut(serializers.Serializer):
    households_helped = serializers.IntegerField()
    approved = CountAmountOut()
    disbursed = CountAmountOut()
    by_aid_type = AidTypeOut(many=True)
    by_category = HardshipCategoryOut(many=True)


class MediationCategoryOut(serializers.Serializer):
    category = serializers.CharField()
    opened = serializers.IntegerField()


class OutcomesOut(serializers.Serializer):
    agreement = serializers.IntegerField()
    no_agreement = serializers.IntegerField()
    expired = serializers.IntegerField()
    declined = serializers.IntegerField()
    withdrawn = serializers.IntegerField()


def _rate():
    return serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True)


def _tenths():
    return serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True)


class MediationOut(serializers.Serializer):
    by_category = MediationCategoryOut(many=True)
    outcomes = OutcomesOut()
    closed = serializers.IntegerField()
    agreements = serializers.IntegerField()
    success_rate = _rate()
    median_days_to_close = _tenths()
    closed_within_term = serializers.IntegerField()
    within_term_rate = _rate()


class CountMoneyOut(serializers.Serializer):
    count = serializers.IntegerField()
    amount = serializers.DecimalField(**MONEY)


class UnpaidOut(serializers.Serializer):
    count = serializers.IntegerField()
    upper_share = serializers.DecimalField(**MONEY)


class RemittanceOut(serializers.Serializer):
    declarations = serializers.IntegerField()
    fund_due = serializers.DecimalField(**MONEY)
    upper_share = serializers.DecimalField(**MONEY)
    paid = CountMoneyOut()
    verified = CountMoneyOut()
    paid_on_time = serializers.IntegerField()
    paid_late = serializers.IntegerField()
    on_time_rate = _rate()
    late_fees = serializers.DecimalField(**MONEY)
    unpaid_overdue = UnpaidOut()


class StepOut(serializers.Serializer):
    process = serializers.CharField()
    step = serializers.CharField()
    title = serializers.CharField()
    completed = serializers.IntegerField()
    median_hours = _tenths()
    p90_hours = _tenths()
    late = serializers.IntegerField()
    overdue = serializers.IntegerField()


class MonthOut(serializers.Serializer):
    month = serializers.CharField()
    hardship = serializers.IntegerField()
    mediation = serializers.IntegerField()
    remittance = serializers.IntegerField()


class SummaryOut(serializers.Serializer):
    organization = OrganizationOut()
    period = PeriodOut()
    processes = ProcessOut(many=True)
    hardship = HardshipOut()
    mediation = MediationOut()
    remittance = RemittanceOut()
    tasks = StepOut(many=True)
    monthly = MonthOut(many=True)


class Summary(APIView):
    """Figures of an organization's subtree for a period (officers and auditors). Counts,
    amounts (decimal strings), rates (fractions, 4 places; null when nothing to divide by),
    medians and 90th percentiles (days or hours to a tenth)."""

    @extend_schema(tags=TAGS, parameters=PERIOD_PARAMETERS, responses={200: SummaryOut, **ERRORS})
    def get(self, request):
        organization, period = report_params.parse(request.user, request.query_params)
        return Response(SummaryOut(selectors.summary(organization, period)).data)


# --- the cases behind a figure ----------------------------------------------------------------


class FigureCases(generics.ListAPIView):
    """The cases a figure of the summary counts (same period and organization), or — without
    `figure` — the cases in reach with the filters of GET /api/v1/cases/. Officers and
    auditors."""

    serializer_class = CaseSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Case.objects.none()
        return with_open_tasks(services.case_list(self.request.user, self.request.query_params))

    @extend_schema(
        tags=TAGS,
        parameters=PERIOD_PARAMETERS + FIGURE_PARAMETERS + CASE_FILTER_PARAMETERS,
        responses={200: CaseSerializer(many=True), **ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


# --- files ------------------------------------------------------------------------------------


class IgnoreAccept(BaseContentNegotiation):
    """A download answers with the file whatever the client accepts (errors in JSON)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _private(response):
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def file_response(export, *, inline=False):
    response = HttpResponse(export.content, content_type=export.content_type)
    response["Content-Disposition"] = content_disposition_header(not inline, export.filename)
    return _private(response)


def job_file_response(job):
    """A finished job's stored file, streamed."""
    return _private(
        FileResponse(
            job.file.open("rb"),
            as_attachment=True,
            filename=job.filename,
            content_type=job.content_type,
        )
    )


def _binary(media_type):
    return {
        (200, media_type): OpenApiResponse(OpenApiTypes.BINARY),
        **ERRORS,
    }


XLSX = services.CONTENT_TYPES["xlsx"]
CSV = "text/csv"


class _File(APIView):
    content_negotiation_class = IgnoreAccept
    fmt = ""


class SummaryXlsx(_File):
    """The summary as an Excel workbook (Chinese headings; numbers and dates formatted)."""

    fmt = "xlsx"

    @extend_schema(
        tags=TAGS,
        operation_id="reports_summary_xlsx",
        parameters=PERIOD_PARAMETERS,
        responses=_binary(XLSX),
    )
    def get(self, request):
        return file_response(services.summary_file(request.user, request.query_params, self.fmt))


class SummaryCsv(SummaryXlsx):
    """The summary as CSV (UTF-8 with BOM, Chinese headings)."""

    fmt = "csv"

    @extend_schema(
        tags=TAGS,
        operation_id="reports_summary_csv",
        parameters=PERIOD_PARAMETERS,
        responses=_binary(CSV),
    )
    def get(self, request):
        return super().get(request)


CASE_FILE_RESPONSES = {**_binary(XLSX), 409: ErrorSerializer}


class CasesXlsx(_File):
    """A case list (the filters of GET /api/v1/cases/, or the cases behind a figure) as Excel,
    up to 2,000 cases; more is a 409 `export_too_large`: start an export job instead."""

    fmt = "xlsx"

    @extend_schema(
        tags=TAGS,
        operation_id="reports_cases_xlsx",
        parameters=PERIOD_PARAMETERS + FIGURE_PARAMETERS + CASE_FILTER_PARAMETERS,
        responses=CASE_FILE_RESPONSES,
    )
    def get(self, request):
        return file_response(services.cases_file(request.user, request.query_params, self.fmt))


class CasesCsv(CasesXlsx):
    """A case list as CSV (same filters and limit as the .xlsx)."""

    fmt = "csv"

    @extend_schema(
        tags=TAGS,
        operation_id="reports_cases_csv",
        parameters=PERIOD_PARAMETERS + FIGURE_PARAMETERS + CASE_FILTER_PARAMETERS,
        responses={**_binary(CSV), 409: ErrorSerializer},
    )
    def get(self, request):
        return super().get(request)


class TrailPdf(_File):
    """A case's trail with each event's hash and the chain's verification, as PDF (officers
    and auditors with the case in reach)."""

    fmt = "pdf"

    @extend_schema(
        tags=TAGS, operation_id="reports_trail_pdf", responses=_binary("application/pdf")
    )
    def get(self, request, pk):
        export = services.trail_file(request.user, pk, self.fmt)
        return file_response(export, inline=self.fmt == "pdf")


class TrailCsv(TrailPdf):
    """A case's trail as CSV, one event a row with its previous and own hash."""

    fmt = "csv"

    @extend_schema(tags=TAGS, operation_id="reports_trail_csv", responses=_binary(CSV))
    def get(self, request, pk):
        return super().get(request, pk)


class YearlyPdf(_File):
    """年度工作统计报告: the year's figures of an organization's subtree, in Chinese, with
    charts."""

    @extend_schema(
        tags=TAGS,
        operation_id="reports_yearly_pdf",
        parameters=[
            OpenApiParameter("year", int, description="default: this year"),
            PERIOD_PARAMETERS[2],
        ],
        responses=_binary("application/pdf"),
    )
    def get(self, request):
        return file_response(services.yearly_file(request.user, request.query_params), inline=True)


# --- export jobs ----------------------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "string",
        "pattern": "^(" + "|".join(ExportJob.Kind.values) + ")$",
        "description": "summary | cases | trail | yearly",
    }
)
class KindField(serializers.ChoiceField):
    """The kind of export. Documented as a pattern: as an enum it would collide with the
    `kind` enums of other components (an ENUM_NAME_OVERRIDES entry in settings could name it)."""

    def __init__(self, **kwargs):
        super().__init__(choices=ExportJob.Kind.choices, **kwargs)


class ExportJobSerializer(serializers.ModelSerializer):
    kind = KindField(read_only=True)
    percent = serializers.IntegerField(read_only=True)
    download = serializers.SerializerMethodField()
    withheld = serializers.SerializerMethodField(
        help_text="Why the file may no longer be downloaded (then `download` is null): the "
        "code and message the download would answer with, e.g. export_reach_changed once your "
        "reach no longer covers what it holds; null otherwise."
    )

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "kind",
            "format",
            "params",
            "status",
            "total",
            "processed",
            "percent",
            "filename",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "download",
            "withheld",
        ]

    def _withheld(self, job):
        return self.context.get("withheld", {}).get(job.pk)

    def get_download(self, job) -> str | None:
        if job.status != ExportJob.Status.DONE or self._withheld(job):
            return None
        request = self.context.get("request")
        return reverse("api-report-export-download", kwargs={"pk": job.pk}, request=request)

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
            "required": ["code", "detail"],
        }
    )
    def get_withheld(self, job):
        refusal = self._withheld(job)
        return {"code": refusal[0], "detail": refusal[1]} if refusal else None


class ExportIn(serializers.Serializer):
    kind = KindField()
    format = serializers.ChoiceField(choices=ExportJob.Format.choices)
    params = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text=(
            "summary: from, to, organization · cases: the filters of /api/v1/cases/ and/or "
            "figure, from, to, organization and the figure's options · trail: case (id) · "
            "yearly: year, organization"
        ),
    )


class Exports(generics.ListAPIView):
    """Your export jobs, newest first; POST starts one (202): the worker builds the file,
    GET the job for its progress and, once done, its `download` link."""

    serializer_class = ExportJobSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ExportJob.objects.none()
        report_params.require_reporter(self.request.user)
        return ExportJob.objects.filter(created_by=self.request.user).order_by("-created_at", "-pk")

    @extend_schema(tags=TAGS, responses={200: ExportJobSerializer(many=True), 403: ErrorSerializer})
    def get(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        context = {
            **self.get_serializer_context(),
            "withheld": services.withheld(request.user, page),
        }
        return self.get_paginated_response(
            ExportJobSerializer(page, many=True, context=context).data
        )

    @extend_schema(
        tags=TAGS,
        request=ExportIn,
        responses={202: ExportJobSerializer, **ERRORS},
    )
    @idempotent
    def post(self, request):
        body = ExportIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        job = services.start_export(
            user=request.user,
            kind=data["kind"],
            fmt=data["format"],
            params=data.get("params") or {},
        )
        return Response(ExportJobSerializer(job, context={"request": request}).data, status=202)


class ExportDetail(APIView):
    """An export job of yours: status and progress (`processed` of `total` rows, `percent`)."""

    @extend_schema(
        tags=TAGS, responses={200: ExportJobSerializer, 403: ErrorSerializer, 404: ErrorSerializer}
    )
    def get(self, request, pk):
        job = services.job_of(request.user, pk)
        return Response(ExportJobSerializer(job, context={"request": request}).data)


class ExportDownload(APIView):
    """The finished file of an export job of yours (409 while it is not done; 403 once your
    reach no longer covers the one it was built for: start it again)."""

    content_negotiation_class = IgnoreAccept

    @extend_schema(
        tags=TAGS,
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def get(self, request, pk):
        return job_file_response(services.download(request.user, pk))


# --- the last verification of every trail ----------------------------------------------------------


class BrokenOut(serializers.Serializer):
    case = serializers.IntegerField()
    number = serializers.CharField()
    broken_at = serializers.IntegerField()


class MissingOut(serializers.Serializer):
    """Cases gone whole since the last tally (cases.trail): how many chains and events, or that
    the tally itself is gone or unsealed."""

    chains = serializers.IntegerField(required=False)
    events = serializers.IntegerField(required=False)
    tally = serializers.ChoiceField(choices=["gone", "unsealed"], required=False)
    since = serializers.DateTimeField(required=False)


class VerificationOut(serializers.ModelSerializer):
    valid = serializers.BooleanField(read_only=True)
    broken = BrokenOut(many=True)
    missing = MissingOut()

    class Meta:
        model = TrailVerification
        fields = [
            "started_at",
            "finished_at",
            "duration",
            "cases",
            "events",
            "valid",
            "broken",
            "missing",
            "source",
        ]


class LastVerification(APIView):
    """The last full verification of every case's trail (nightly; auditors only). 404 when none
    has run yet."""

    @extend_schema(
        tags=TAGS, responses={200: VerificationOut, 403: ErrorSerializer, 404: ErrorSerializer}
    )
    def get(self, request):
        if not selectors.is_auditor(request.user):
            raise Forbidden(_("The verification of the trails is shown to auditors."))
        result = selectors.last_verification()
        if result is None:
            raise NotFound()
        return Response(VerificationOut(result).data)


urlpatterns = [
    path("reports/summary/", Summary.as_view(), name="api-report-summary"),
    path("reports/summary.xlsx", SummaryXlsx.as_view(), name="api-report-summary-xlsx"),
    path("reports/summary.csv", SummaryCsv.as_view(), name="api-report-summary-csv"),
    path("reports/cases/", FigureCases.as_view(), name="api-report-cases"),
    path("reports/cases.xlsx", CasesXlsx.as_view(), name="api-report-cases-xlsx"),
    path("reports/cases.csv", CasesCsv.as_view(), name="api-report-cases-csv"),
    path("reports/cases/<int:pk>/trail.pdf", TrailPdf.as_view(), name="api-report-trail-pdf"),
    path("reports/cases/<int:pk>/trail.csv", TrailCsv.as_view(), name="api-report-trail-csv"),
    path("reports/yearly.pdf", YearlyPdf.as_view(), name="api-report-yearly-pdf"),
    path("reports/exports/", Exports.as_view(), name="api-report-exports"),
    path("reports/exports/<int:pk>/", ExportDetail.as_view(), name="api-report-export"),
    path(
        "reports/exports/<int:pk>/download/",
        ExportDownload.as_view(),
        name="api-report-export-download",
    ),
    path(
        "reports/trail-verification/",
        LastVerification.as_view(),
        name="api-report-trail-verification",
    ),
]
