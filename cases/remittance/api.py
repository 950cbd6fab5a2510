from decimal import Decimal

from django.urls import path
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.api import CaseSerializer, case_response
from cases.attachments.uploads import SizeLimitHandler
from cases.details import RateField
from core.api import idempotent
from core.config import parameter
from core.errors import Invalid, NotFound
from core.rest import ErrorSerializer
from organizations.api import OrganizationRefSerializer
from organizations.selectors import member_union, memberships_of

from . import imports, rules, selectors, services
from .models import ImportJob

ERRORS = dict.fromkeys((400, 403, 404, 409), ErrorSerializer)


class RemittanceDetailsSerializer(serializers.Serializer):
    """The remittance fields of a case's JSON (all computed on the server). The labels name
    them on the case page, which shows rates as percentages and times in local time."""

    period = serializers.DateField(format="%Y-%m", label=capfirst(_("period")))
    supplements = serializers.IntegerField(
        source="supplements_id",
        allow_null=True,
        label=_("Supplement to the declaration of case ID"),
    )
    payroll_total = serializers.DecimalField(
        max_digits=14, decimal_places=2, label=capfirst(_("payroll total"))
    )
    headcount = serializers.IntegerField(label=capfirst(_("headcount")))
    member_count = serializers.IntegerField(label=capfirst(_("member count")))
    fund_rate = RateField(max_digits=8, decimal_places=6, label=capfirst(_("fund rate")))
    upper_share_rate = RateField(
        max_digits=8, decimal_places=6, label=capfirst(_("upper share rate"))
    )
    fund_due = serializers.DecimalField(
        max_digits=14, decimal_places=2, label=capfirst(_("fund due"))
    )
    upper_share = serializers.DecimalField(
        max_digits=14, decimal_places=2, label=capfirst(_("upper share"))
    )
    retained_share = serializers.DecimalField(
        max_digits=14, decimal_places=2, label=capfirst(_("retained share"))
    )
    due_date = serializers.DateField(label=capfirst(_("due date")))
    paid_amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, label=capfirst(_("paid amount"))
    )
    paid_on = serializers.DateField(allow_null=True, label=_("Paid on"))
    bank_reference = serializers.CharField(label=capfirst(_("bank reference")))
    days_late = serializers.IntegerField(allow_null=True, label=capfirst(_("days late")))
    late_fee = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, label=capfirst(_("late fee"))
    )
    verified_at = serializers.DateTimeField(allow_null=True, label=capfirst(_("verified at")))


class DeclarationSerializer(serializers.Serializer):
    organization = serializers.IntegerField(
        required=False, help_text="grassroots union id; default: yours"
    )
    period = serializers.CharField(max_length=7, help_text="YYYY-MM, not in the future")
    payroll_total = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text="工资总额 of the month, CNY",
    )
    headcount = serializers.IntegerField(min_value=1, max_value=services.MAX_HEADCOUNT)
    member_count = serializers.IntegerField(min_value=0, max_value=services.MAX_HEADCOUNT)
    supplements = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=services.MAX_ID,
        help_text="case id of the original declaration (补缴): one of the union's declarations "
        "of the same period that the chair has approved and that still stands",
    )


class FeeRemittances(APIView):
    @extend_schema(
        tags=["remittance"],
        summary="Declare a month's payroll (treasurer)",
        request=DeclarationSerializer,
        responses={201: CaseSerializer, **ERRORS},
    )
    @idempotent
    def post(self, request):
        body = DeclarationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        case = services.declare(user=request.user, **body.validated_data)
        return case_response(request, case, status=201)


class OverviewRowSerializer(serializers.Serializer):
    organization = OrganizationRefSerializer()
    state = serializers.ChoiceField(choices=["not_declared", "declared", "paid", "verified"])
    late = serializers.BooleanField()
    due_date = serializers.DateField()
    case = serializers.SerializerMethodField()
    fund_due = serializers.SerializerMethodField()
    upper_share = serializers.SerializerMethodField()
    paid_amount = serializers.SerializerMethodField()
    paid_on = serializers.SerializerMethodField()
    late_fee = serializers.SerializerMethodField()

    def _get(self, row, name):
        value = getattr(row.remittance, name) if row.remittance else None
        return None if value is None else str(value)  # money as strings, like DecimalField

    def get_case(self, row) -> dict | None:
        if not row.remittance:
            return None
        return {"id": row.remittance.case_id, "number": row.remittance.case.number}

    def get_fund_due(self, row) -> str | None:
        return self._get(row, "fund_due")

    def get_upper_share(self, row) -> str | None:
        return self._get(row, "upper_share")

    def get_paid_amount(self, row) -> str | None:
        return self._get(row, "paid_amount")

    def get_paid_on(self, row) -> str | None:
        return self._get(row, "paid_on")

    def get_late_fee(self, row) -> str | None:
        return self._get(row, "late_fee")


class OverviewSerializer(serializers.Serializer):
    period = serializers.CharField()
    unions = OverviewRowSerializer(many=True)
    summary = serializers.DictField(child=serializers.IntegerField())


class Overview(APIView):
    """Per period, every grassroots union in reach: not declared, declared, paid, verified,
    late — for the officers above them."""

    @extend_schema(
        tags=["remittance"],
        parameters=[OpenApiParameter("period", str, required=True, description="YYYY-MM")],
        responses={200: OverviewSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
    )
    def get(self, request):
        period = services.parse_period(request.query_params.get("period"), viewing=True)
        rows = selectors.overview(request.user, period)
        summary = dict.fromkeys(("not_declared", "declared", "paid", "verified"), 0)
        for row in rows:
            summary[row.state] += 1
        summary["late"] = sum(row.late for row in rows)
        data = {"period": f"{period:%Y-%m}", "unions": rows, "summary": summary}
        return Response(OverviewSerializer(data).data)


class DuesIn(serializers.Serializer):
    wage = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"))


class DuesOut(serializers.Serializer):
    wage = serializers.DecimalField(max_digits=12, decimal_places=2)
    dues = serializers.DecimalField(max_digits=12, decimal_places=2)
    rate = serializers.DecimalField(max_digits=8, decimal_places=6)


class MemberDues(APIView):
    """会费 helper: a member's monthly dues from the wage (the part under 10 CNY ignored)."""

    @extend_schema(
        tags=["remittance"],
        parameters=[OpenApiParameter("wage", Decimal, required=True)],
        responses={200: DuesOut, 400: ErrorSerializer},
    )
    def get(self, request):
        body = DuesIn(data=request.query_params)
        body.is_valid(raise_exception=True)
        union = member_union(request.user) or next(
            (m.organization for m in memberships_of(request.user)), None
        )
        rate = parameter("remittance.dues_rate", organization=union)
        unit = parameter("remittance.dues_wage_unit", organization=union)
        wage = body.validated_data["wage"]
        dues = rules.member_dues(wage, rate=rate, wage_unit=unit)
        return Response(DuesOut({"wage": wage, "dues": dues, "rate": rate}).data)


class ImportJobSerializer(serializers.ModelSerializer):
    processed_rows = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "filename",
            "status",
            "total_rows",
            "processed_rows",
            "errors",
            "created_cases",
            "created_at",
            "finished_at",
        ]
        extra_kwargs = {
            "errors": {
                "help_text": "why the file was refused, nothing declared: [{row, field, column, "
                "message}]; row and column (the header as the file spells it) are null for "
                "the whole file; message names both, in the uploader's language"
            }
        }

    def get_processed_rows(self, job) -> int:
        return imports.progress(job)


class ImportUpload(serializers.Serializer):
    file = serializers.FileField()


class Imports(APIView):
    """Bulk declarations from an .xlsx or .csv file (comma-separated, UTF-8) whose first row
    names the columns union, period, payroll total, headcount and member count: all rows or
    none. A file that cannot be declared at all (columns missing or given twice, another
    separator, no rows, too many; a workbook that cannot be read or unpacks to more than 30 MB)
    is refused at once (400 on `file`); the rows are checked and declared in the background:
    poll the job for progress and, if it failed, its errors."""

    parser_classes = [MultiPartParser, FormParser]

    def initialize_request(self, request, *args, **kwargs):
        # The size limit holds while the file arrives (before authentication: session
        # authentication's CSRF check reads the body); imports.start then refuses it by size.
        if request.method == "POST":
            request.upload_handlers.insert(
                0, SizeLimitHandler(request, max_bytes=lambda: imports.MAX_BYTES)
            )
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        tags=["remittance"],
        request={"multipart/form-data": ImportUpload},
        responses={202: ImportJobSerializer, **ERRORS},
    )
    @idempotent
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise Invalid(fields={"file": [str(_("No file was submitted."))]})
        job = imports.start(user=request.user, upload=upload)
        return Response(ImportJobSerializer(job).data, status=202)


class ImportDetail(APIView):
    @extend_schema(tags=["remittance"], responses={200: ImportJobSerializer, 404: ErrorSerializer})
    def get(self, request, pk):
        job = ImportJob.objects.filter(pk=pk, created_by=request.user).first()
        if job is None:
            raise NotFound()
        return Response(ImportJobSerializer(job).data)


urlpatterns = [
    path("fee-remittances/", FeeRemittances.as_view(), name="api-fee-remittance-list"),
    path("fee-remittances/overview/", Overview.as_view(), name="api-fee-remittance-overview"),
    path("fee-remittances/member-dues/", MemberDues.as_view(), name="api-member-dues"),
    path("fee-remittances/imports/", Imports.as_view(), name="api-fee-remittance-imports"),
    path(
        "fee-remittances/imports/<int:pk>/",
        ImportDetail.as_view(),
        name="api-fee-remittance-import",
    ),
]
