"""Hardship aid API: submit an application, object during a public notice, the notices of my
union, the register; and the hardship fields merged into the case JSON."""

from decimal import Decimal

from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals.api import CaseRefSerializer
from cases.api import CaseSerializer, with_open_tasks
from cases.identifiers import InvalidResidentId, resident_id
from cases.selectors import cases_in_reach
from core.api import idempotent
from core.rest import ErrorSerializer
from core.sensitive import mask
from organizations.api import OrganizationRefSerializer, UserRefSerializer

from . import selectors, services
from .models import (
    AidType,
    Category,
    HardshipApplication,
    RegisterEntry,
    RegisterStatus,
    mask_account,
)

ERRORS = dict.fromkeys((400, 403, 404, 409), ErrorSerializer)

# Sanity bounds of what an applicant enters — catching typos such as an extra digit group —
# not policy: thresholds and rates are parameters.
MAX_HOUSEHOLD = 30
MAX_MONEY = 10_000_000  # CNY a year
MAX_REQUEST = 1_000_000  # CNY


def validate_ric(value, *, today=None):
    """A resident ID number, normalized, or a 400 naming what is wrong (cases.identifiers)."""
    try:
        return resident_id(value, today=today)
    except InvalidResidentId as exc:
        raise serializers.ValidationError(str(exc)) from exc


def _money(**kwargs):
    return serializers.DecimalField(max_digits=14, decimal_places=2, **kwargs)


class ApplicationIn(serializers.Serializer):
    aid_type = serializers.ChoiceField(choices=AidType.choices)
    id_number = serializers.CharField(max_length=32, help_text="resident ID number, 18 characters")
    household_size = serializers.IntegerField(min_value=1, max_value=MAX_HOUSEHOLD)
    annual_income = _money(min_value=0, max_value=MAX_MONEY, help_text="household, CNY a year")
    rigid_expenses = _money(
        min_value=0,
        max_value=MAX_MONEY,
        help_text="medical, disability, schooling and necessary job costs, CNY a year",
    )
    requested_amount = _money(min_value=Decimal("0.01"), max_value=MAX_REQUEST)
    reason = serializers.CharField(max_length=2000)
    accident_or_illness = serializers.BooleanField(required=False, default=False)
    hardship_costs = _money(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=MAX_MONEY,
        help_text="this year's costs of the accident or illness (sudden hardship)",
    )
    child_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    child_id_number = serializers.CharField(
        max_length=32, required=False, allow_blank=True, default=""
    )
    on_behalf_of = serializers.CharField(
        max_length=150,
        required=False,
        allow_blank=True,
        default="",
        help_text="username of a member of the union you chair",
    )

    def validate_id_number(self, value):
        return validate_ric(value)

    def validate_child_id_number(self, value):
        return validate_ric(value) if value.strip() else ""

    def validate(self, attrs):
        errors = {}
        if attrs["aid_type"] == AidType.EDUCATION:
            if not attrs["child_name"].strip():
                errors["child_name"] = [_("Required for education aid.")]
            if not attrs["child_id_number"]:
                errors["child_id_number"] = [_("Required for education aid.")]
            elif attrs["child_id_number"] == attrs["id_number"]:
                errors["child_id_number"] = [_("The child's number, not the applicant's.")]
        else:
            for name in ("child_name", "child_id_number"):
                if attrs[name].strip():
                    errors[name] = [_("Only for education aid.")]
        if attrs["accident_or_illness"] and attrs.get("hardship_costs") is None:
            errors["hardship_costs"] = [
                _("Required when the hardship is caused by an accident or critical illness.")
            ]
        if errors:
            raise serializers.ValidationError(errors)
        attrs["child_name"] = attrs["child_name"].strip()
        attrs["reason"] = attrs["reason"].strip()
        return attrs


class RegisterEntryRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = RegisterEntry
        fields = ["id", "status", "category", "started_on", "next_review_on", "closed_on"]


class HardshipDetailsSerializer(serializers.ModelSerializer):
    """The hardship fields of the case JSON. Resident ID numbers and the number of the account
    the aid was paid into are whole only for the applicant, whoever submitted for them and the
    officers acting on the case."""

    id_number = serializers.SerializerMethodField(label=_("Resident ID number"))
    child_id_number = serializers.SerializerMethodField(label=_("Child's ID number"))
    account_number = serializers.SerializerMethodField(label=_("Account number paid into"))
    # For clients: whether the numbers above are masked for this reader (not shown on pages).
    id_numbers_masked = serializers.SerializerMethodField(label=_("ID numbers masked"))
    register_entry = RegisterEntryRefSerializer(allow_null=True)

    class Meta:
        model = HardshipApplication
        fields = [
            "kind",
            "aid_type",
            "id_number",
            "id_numbers_masked",
            "household_size",
            "annual_income",
            "rigid_expenses",
            "accident_or_illness",
            "hardship_costs",
            "reason",
            "child_name",
            "child_id_number",
            "submitted_on",
            "living_standard",
            "per_capita_income",
            "proposed_category",
            "requested_amount",
            "approved_amount",
            "approved_category",
            "approval_level",
            "notice_ends_at",
            "disbursed_amount",
            "disbursed_on",
            "payment_reference",
            "account_holder",
            "account_number",
            "register_entry",
            "review_due_on",
            "review_conclusion",
        ]

    def _whole(self, record):
        return selectors.sees_identity(self.context.get("request"), record.case)

    def get_id_numbers_masked(self, record) -> bool:
        return not self._whole(record)

    def get_id_number(self, record) -> str:
        return record.id_number if self._whole(record) else mask(record.id_number)

    def get_child_id_number(self, record) -> str:
        value = record.child_id_number or ""
        return value if self._whole(record) else mask(value)

    def get_account_number(self, record) -> str:
        value = record.account_number or ""
        return value if self._whole(record) else mask_account(value)


def case_json(request, case, status=200):
    """The case as the caller sees it, rendered with the request (who sees ID numbers whole)."""
    case = with_open_tasks(cases_in_reach(request.user)).get(pk=case.pk)
    return Response(CaseSerializer(case, context={"request": request}).data, status=status)


class HardshipApplications(APIView):
    """Submit an aid application (a member for themself, or a chair for a member of their
    union with `on_behalf_of`). The response is the new case, with the computed per-capita
    income, proposed category and the living standard used."""

    @extend_schema(
        tags=["hardship"],
        request=ApplicationIn,
        responses={201: CaseSerializer, **ERRORS},
    )
    @idempotent
    def post(self, request):
        body = ApplicationIn(data=request.data)
        body.is_valid(raise_exception=True)
        case = services.submit_application(user=request.user, **body.validated_data)
        return case_json(request, case, status=201)


class ObjectionIn(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ObjectionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = CaseRefSerializer()
    reason = serializers.CharField()
    lodged_at = serializers.DateTimeField()
    moved_to = serializers.SerializerMethodField()

    def get_moved_to(self, objection) -> str:
        return services.OBJECTION_RETURNS_TO[objection.case.hardship.kind]


class CaseObjections(APIView):
    """异议: a member of the applicant's union objects during the public notice; the case goes
    back to investigation (a proposed closure of a register entry: to the register review)."""

    @extend_schema(
        tags=["hardship"],
        request=ObjectionIn,
        responses={201: ObjectionSerializer, **ERRORS},
    )
    @idempotent
    def post(self, request, pk):
        body = ObjectionIn(data=request.data)
        body.is_valid(raise_exception=True)
        objection = services.lodge_objection(
            case_id=pk, user=request.user, reason=body.validated_data["reason"]
        )
        return Response(ObjectionSerializer(objection).data, status=201)


class NoticeSerializer(serializers.Serializer):
    case = CaseRefSerializer()
    # `application`: an aid application; `review`: a proposed closure of the applicant's
    # register entry (退档).
    kind = serializers.CharField()
    organization = OrganizationRefSerializer(source="case.organization")
    applicant = serializers.CharField(source="case.applicant.display_name")
    aid_type = serializers.CharField()
    category = serializers.CharField(source="notice_category")
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, source="current_amount", allow_null=True
    )
    notice_ends_at = serializers.DateTimeField()


class HardshipNotices(generics.ListAPIView):
    """公示: the applications of my union(s) now on public notice, and the proposed closures of
    register entries (退档, `kind` review); a member may object to one
    (POST /cases/{id}/objections/) until its notice ends."""

    serializer_class = NoticeSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return HardshipApplication.objects.none()
        return selectors.notices_for(self.request.user)

    @extend_schema(tags=["hardship"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RegisterEntrySerializer(serializers.ModelSerializer):
    member = UserRefSerializer()
    organization = OrganizationRefSerializer()
    source_case = CaseRefSerializer()
    review_case = CaseRefSerializer(allow_null=True)
    closed_by_case = CaseRefSerializer(allow_null=True)

    class Meta:
        model = RegisterEntry
        fields = [
            "id",
            "member",
            "organization",
            "category",
            "status",
            "started_on",
            "next_review_on",
            "closed_on",
            "source_case",
            "review_case",
            "closed_by_case",
        ]


class HardshipRegister(generics.ListAPIView):
    """档案: register entries of the officer's subtree (and a member's own). Filter `status`
    (active, closed) and `category`."""

    serializer_class = RegisterEntrySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RegisterEntry.objects.none()
        qs = selectors.register_in_reach(self.request.user)
        params = self.request.query_params
        for name, choices in (("status", RegisterStatus), ("category", Category)):
            value = params.get(name)
            if not value:
                continue
            if value not in choices.values:
                # An unknown filter value is a mistake to report, not a filter to drop.
                raise serializers.ValidationError(
                    {
                        name: [
                            _("Choose one of: %(choices)s.")
                            % {"choices": ", ".join(choices.values)}
                        ]
                    }
                )
            qs = qs.filter(**{name: value})
        return qs

    @extend_schema(
        tags=["hardship"],
        parameters=[
            OpenApiParameter("status", str, enum=RegisterStatus.values),
            OpenApiParameter("category", str, enum=Category.values),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path(
        "hardship-applications/",
        HardshipApplications.as_view(),
        name="hardship-applications",
    ),
    path("cases/<int:pk>/objections/", CaseObjections.as_view(), name="case-objections"),
    path("hardship-notices/", HardshipNotices.as_view(), name="api-hardship-notices"),
    path("hardship-register/", HardshipRegister.as_view(), name="hardship-register"),
]
