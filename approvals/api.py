from django.db.models import Q
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.rest import ErrorSerializer
from organizations.api import OrganizationRefSerializer, UserRefSerializer

from . import selectors, services
from .models import OPEN_STATUSES

ERRORS = {400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer}


class CaseRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    process = serializers.CharField()


class CandidatesSerializer(serializers.Serializer):
    role = serializers.CharField()
    organization = OrganizationRefSerializer()


class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    case = CaseRefSerializer()
    step = serializers.CharField(source="flow_task.name")
    title = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    assignee = UserRefSerializer(source="owner", allow_null=True)
    candidates = serializers.SerializerMethodField()
    due_at = serializers.DateTimeField(allow_null=True)
    overdue = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(source="created")
    finished_at = serializers.DateTimeField(source="finished", allow_null=True)
    decision = serializers.CharField()
    comment = serializers.CharField()
    data = serializers.JSONField()
    completed_by = UserRefSerializer(allow_null=True)
    decisions = serializers.SerializerMethodField()
    fields = serializers.SerializerMethodField(method_name="fields_spec")

    def get_title(self, task) -> str:
        return str(task.flow_task.task_title)

    def get_status(self, task) -> str:
        return str(task.status).lower()

    def get_overdue(self, task) -> bool:
        return bool(task.is_open and task.due_at and task.due_at < timezone.now())

    def get_candidates(self, task) -> CandidatesSerializer | None:
        if not task.candidate_role:
            return None
        return CandidatesSerializer(
            {"role": task.candidate_role, "organization": task.candidate_organization}
        ).data

    def get_decisions(self, task) -> list[dict]:
        return task.flow_task.decisions_spec() if task.is_open else []

    def fields_spec(self, task) -> list[dict]:
        return [f.as_dict() for f in task.flow_task.fields] if task.is_open else []


class CompleteSerializer(serializers.Serializer):
    decision = serializers.CharField(max_length=20)
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    data = serializers.DictField(required=False, default=dict)


VIEWS = {"inbox": selectors.inbox, "queue": selectors.queue, "archive": selectors.archive}


class TaskList(generics.ListAPIView):
    """My tasks: `view=inbox` (assigned to me, the default), `queue` (I may claim) or `archive`
    (decided by me). Filters: `process`, `step`, `overdue`."""

    serializer_class = TaskSerializer

    def get_queryset(self):
        params = self.request.query_params
        view = params.get("view", "inbox")
        if view not in VIEWS:
            raise ValidationError({"view": [f"Choose one of: {', '.join(VIEWS)}."]})
        qs = VIEWS[view](self.request.user)
        if params.get("process"):
            qs = qs.filter(case__process=params["process"])
        if params.get("step"):
            qs = qs.filter(flow_task__endswith=f".{params['step']}")
        overdue = params.get("overdue")
        if overdue in ("true", "1"):
            qs = qs.filter(status__in=OPEN_STATUSES, due_at__lt=timezone.now())
        elif overdue in ("false", "0"):
            qs = qs.filter(Q(due_at__isnull=True) | Q(due_at__gte=timezone.now()))
        order = "-finished" if view == "archive" else "created"
        return qs.order_by(order, "pk")

    @extend_schema(
        tags=["tasks"],
        parameters=[
            OpenApiParameter("view", str, enum=list(VIEWS)),
            OpenApiParameter("process", str),
            OpenApiParameter("step", str),
            OpenApiParameter("overdue", bool),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class TaskDetail(generics.RetrieveAPIView):
    serializer_class = TaskSerializer

    def get_queryset(self):
        return selectors.tasks_in_reach(self.request.user)

    @extend_schema(tags=["tasks"], responses={200: TaskSerializer, 404: ErrorSerializer})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class _TaskAction(APIView):
    def respond(self, task):
        task = selectors.tasks_in_reach(self.request.user).get(pk=task.pk)
        return Response(TaskSerializer(task).data)


class ClaimTask(_TaskAction):
    @extend_schema(tags=["tasks"], request=None, responses={200: TaskSerializer, **ERRORS})
    def post(self, request, pk):
        return self.respond(services.claim(task_id=pk, user=request.user))


class ReleaseTask(_TaskAction):
    @extend_schema(tags=["tasks"], request=None, responses={200: TaskSerializer, **ERRORS})
    def post(self, request, pk):
        return self.respond(services.release(task_id=pk, user=request.user))


class CompleteTask(_TaskAction):
    @extend_schema(
        tags=["tasks"], request=CompleteSerializer, responses={200: TaskSerializer, **ERRORS}
    )
    def post(self, request, pk):
        body = CompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = services.complete(task_id=pk, user=request.user, **body.validated_data)
        return self.respond(task)


urlpatterns = [
    path("tasks/", TaskList.as_view(), name="task-list"),
    path("tasks/<int:pk>/", TaskDetail.as_view(), name="task-detail"),
    path("tasks/<int:pk>/claim/", ClaimTask.as_view(), name="task-claim"),
    path("tasks/<int:pk>/release/", ReleaseTask.as_view(), name="task-release"),
    path("tasks/<int:pk>/complete/", CompleteTask.as_view(), name="task-complete"),
]
