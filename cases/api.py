from django.db.models import Prefetch, Q
from django.urls import path
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import services as approval_services
from approvals.api import TaskSerializer
from approvals.selectors import open_tasks
from core.errors import NotFound
from core.rest import ErrorSerializer, StrictNullBooleanField
from organizations.api import OrganizationRefSerializer, UserRefSerializer

from . import selectors, trail
from .details import for_process, joins
from .forms import WITHDRAW_REASON_MAX_LENGTH
from .models import Case, CaseStatus, TrailEvent


class CaseSerializer(serializers.ModelSerializer):
    """The fields every case has, plus its process's own (see cases.details)."""

    organization = OrganizationRefSerializer()
    applicant = UserRefSerializer()
    submitted_by = UserRefSerializer()
    open_tasks = TaskSerializer(many=True, source="open_task_list")

    class Meta:
        model = Case
        fields = [
            "id",
            "number",
            "process",
            "status",
            "outcome",
            "title",
            "organization",
            "applicant",
            "submitted_by",
            "amount",
            "created_at",
            "updated_at",
            "finished_at",
            "open_tasks",
        ]

    def to_representation(self, case):
        data = super().to_representation(case)
        details = for_process(case.process)
        if details is not None:
            record = getattr(case, details.related_name, None)
            if record is not None:
                data.update(self._details_serializer(details).to_representation(record))
        return data

    def _details_serializer(self, details):
        """One serializer per process for the whole list: a ModelSerializer builds its fields
        when first used (about a millisecond), which a new one per case paid on every row."""
        cache = self.__dict__.setdefault("_details_serializers", {})
        if details.serializer not in cache:
            cache[details.serializer] = details.serializer(context=self.context)
        return cache[details.serializer]


class TrailEventSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor = UserRefSerializer(allow_null=True)
    actor_role = serializers.CharField()
    on_behalf_of = UserRefSerializer(allow_null=True)
    action = serializers.CharField()
    task = serializers.IntegerField(source="task_id", allow_null=True)
    step = serializers.CharField()
    comment = serializers.CharField()
    data = serializers.JSONField()
    source_ip = serializers.IPAddressField(allow_null=True)
    prev_hash = serializers.CharField()
    hash = serializers.CharField()


class VerificationSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    events = serializers.IntegerField()
    broken_at = serializers.IntegerField(allow_null=True)


class WithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=WITHDRAW_REASON_MAX_LENGTH)


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictNullBooleanField

    def __init__(self, *args, **kwargs):
        # DRF's BooleanFilter would pick a widget that turns unknown text into "not given".
        kwargs["widget"] = StrictNullBooleanField.widget
        super().__init__(*args, **kwargs)


def _process_choices():
    from workflows.base import registered

    return [(name, name) for name in sorted(registered())]


class CaseFilter(filters.FilterSet):
    # A process that does not exist is named as the bad filter (400), as a bad status is, not
    # answered with an empty list.
    process = filters.ChoiceFilter(choices=_process_choices)
    status = filters.ChoiceFilter(choices=CaseStatus.choices)
    organization = filters.NumberFilter(
        method="filter_organization", label="organization id (and its subtree)"
    )
    q = filters.CharFilter(method="filter_q", label="number, title or applicant")
    overdue = StrictBooleanFilter(method="filter_overdue")

    def filter_organization(self, qs, name, value):
        from organizations.models import Organization

        org = Organization.objects.filter(pk=value).first()
        if org is None:
            return qs.none()
        return qs.filter(organization__path__startswith=org.path)

    def filter_q(self, qs, name, value):
        from organizations.models import User

        value = value.strip()[:100]
        # The matching applicants are looked up once (a few thousand people), not joined and
        # compared on each of the tens of thousands of cases in reach.
        applicants = User.objects.filter(
            Q(username__icontains=value) | Q(full_name__icontains=value)
        ).values("pk")
        return qs.filter(
            Q(number__icontains=value) | Q(title__icontains=value) | Q(applicant_id__in=applicants)
        )

    def filter_overdue(self, qs, name, value):
        """Late as the reports count it (reports.selectors.overdue_q): a step past its due
        time, a remittance unpaid past its due date, a mediation past its statutory term."""
        from reports.selectors import overdue_q  # reports builds on cases

        late = overdue_q(timezone.now())
        return qs.filter(late) if value else qs.exclude(late)


def with_open_tasks(qs):
    """Cases with their process records and open tasks, in a fixed number of queries. The
    prefetch reads the open tasks of the page's cases only; restricting it to `qs` as well
    made PostgreSQL evaluate the whole unpaginated reach (seconds at 200,000 cases)."""
    return qs.select_related(*joins()).prefetch_related(
        Prefetch("tasks", queryset=open_tasks(), to_attr="open_task_list")
    )


class CaseList(generics.ListAPIView):
    """Cases within the caller's reach, newest first."""

    serializer_class = CaseSerializer
    filterset_class = CaseFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Case.objects.none()
        return with_open_tasks(selectors.cases_in_reach(self.request.user))

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        # Process panels that look up per-viewer facts (who acted on which case) ask only
        # about the cases on this page, not about everything the viewer ever touched.
        self.request.case_ids_shown = [case.pk for case in page]
        return page

    @extend_schema(tags=["cases"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CaseDetail(generics.RetrieveAPIView):
    serializer_class = CaseSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Case.objects.none()
        return with_open_tasks(selectors.cases_in_reach(self.request.user))

    @extend_schema(tags=["cases"], responses={200: CaseSerializer, 404: ErrorSerializer})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def case_response(request, case, status=200):
    """A case as the caller sees it (scoped, with its open tasks)."""
    case = with_open_tasks(selectors.cases_in_reach(request.user)).get(pk=case.pk)
    return Response(CaseSerializer(case, context={"request": request}).data, status=status)


def _case_or_404(request, pk):
    case = selectors.case_in_reach(request.user, pk)
    if case is None:
        raise NotFound()
    return case


class CaseTrail(generics.ListAPIView):
    """The case's trail events in order."""

    serializer_class = TrailEventSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return TrailEvent.objects.none()
        self.case = _case_or_404(self.request, self.kwargs["pk"])
        return selectors.trail_of(self.case)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is None:
            return page
        return selectors.trail_shown_to(self.request.user, self.case, page)

    @extend_schema(tags=["cases"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class VerifyTrail(APIView):
    """Recompute the case's hash chain: `broken_at` is the first event that does not match."""

    @extend_schema(tags=["cases"], responses={200: VerificationSerializer, 404: ErrorSerializer})
    def get(self, request, pk):
        return Response(trail.verify(_case_or_404(request, pk)).as_dict())


class WithdrawCase(APIView):
    """撤回: the applicant withdraws a case in progress; its open tasks are cancelled."""

    @extend_schema(
        tags=["cases"],
        request=WithdrawSerializer,
        responses=dict.fromkeys((400, 403, 404, 409), ErrorSerializer) | {200: CaseSerializer},
    )
    def post(self, request, pk):
        body = WithdrawSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        case = approval_services.withdraw(case_id=pk, user=request.user, **body.validated_data)
        return case_response(request, case)


urlpatterns = [
    path("cases/", CaseList.as_view(), name="api-case-list"),
    path("cases/<int:pk>/", CaseDetail.as_view(), name="api-case-detail"),
    path("cases/<int:pk>/trail/", CaseTrail.as_view(), name="api-case-trail"),
    path("cases/<int:pk>/trail/verify/", VerifyTrail.as_view(), name="api-case-trail-verify"),
    path("cases/<int:pk>/withdraw/", WithdrawCase.as_view(), name="api-case-withdraw"),
]
