from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core import plans
from core.api import idempotent
from core.rest import ErrorSerializer, PagesWithTotal, StrictNullBooleanField
from organizations.api import OrganizationRefSerializer, UserRefSerializer

from . import selectors, services
from .models import OPEN_STATUSES, CaseTask, Delegation, TaskKind

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
    data = serializers.SerializerMethodField()
    completed_by = UserRefSerializer(allow_null=True)
    on_behalf_of = UserRefSerializer(allow_null=True)
    kind = serializers.CharField()
    on_hold = serializers.BooleanField(
        help_text="open and waiting: for the approver it consulted, or (an approver added "
        "after) for the approval before it"
    )
    decisions = serializers.SerializerMethodField()
    fields = serializers.SerializerMethodField(method_name="fields_spec")

    def get_title(self, task) -> str:
        return str(task.flow_task.task_title)

    def get_status(self, task) -> str:
        return str(task.status).lower()

    def get_overdue(self, task) -> bool:
        return bool(task.is_open and task.due_at and task.due_at < timezone.now())

    @extend_schema_field(CandidatesSerializer(allow_null=True))
    def get_candidates(self, task):
        if not task.candidate_role:
            return None
        return CandidatesSerializer(
            {"role": task.candidate_role, "organization": task.candidate_organization}
        ).data

    def get_data(self, task) -> dict:
        return {k: v for k, v in task.data.items() if not k.startswith("_")}

    def get_decisions(self, task) -> list[dict]:
        if not task.is_open:
            return []
        return task.flow_task.decisions_spec(services.allowed_decisions(task))

    def fields_spec(self, task) -> list[dict]:
        if not task.is_open or task.kind == TaskKind.CONSULT:
            return []
        return [f.as_dict() for f in task.flow_task.fields]

    def to_representation(self, task):
        """What the declared fields give (they stay the schema), built directly: DRF's generic
        path costs about a millisecond per row in nested serializers and field copies, which
        made serializing a page of the inbox dearer than reading it
        (tests/approvals/test_task_representation.py holds the two equal)."""
        case = task.case
        title, decisions, fields = self._step_texts(task)
        return {
            "id": task.pk,
            "case": {"id": case.pk, "number": str(case.number), "process": str(case.process)},
            "step": task.flow_task.name,
            "title": title,
            "status": self.get_status(task),
            "assignee": _user_ref(task.owner),
            "candidates": {
                "role": task.candidate_role,
                "organization": _organization_ref(task.candidate_organization),
            }
            if task.candidate_role
            else None,
            "due_at": _datetime(task.due_at),
            "overdue": self.get_overdue(task),
            "created_at": _datetime(task.created),
            "finished_at": _datetime(task.finished),
            "decision": str(task.decision),
            "comment": str(task.comment),
            "data": self.get_data(task),
            "completed_by": _user_ref(task.completed_by),
            "on_behalf_of": _user_ref(task.on_behalf_of),
            "kind": str(task.kind),
            "on_hold": bool(task.on_hold) and task.is_open,
            "decisions": decisions,
            "fields": fields,
        }

    def _step_texts(self, task):
        """Title, decisions and fields of the task's step: the same for every open (or every
        closed) task of a step and kind, so a page translates them once per step, not per row."""
        key = (task.flow_task, task.kind, task.is_open)
        texts = self.__dict__.setdefault("_step_texts_cache", {})
        if key not in texts:
            texts[key] = (self.get_title(task), self.get_decisions(task), self.fields_spec(task))
        return texts[key]


_DATETIME = serializers.DateTimeField()


def _datetime(value):
    return None if value is None else _DATETIME.to_representation(value)


def _user_ref(user):
    if user is None:
        return None
    return {"id": user.pk, "username": str(user.username), "name": str(user.display_name)}


def _organization_ref(org):
    if org is None:
        return None
    return {"id": org.pk, "name": str(org.name), "kind": str(org.kind)}


class TaskDetailSerializer(TaskSerializer):
    send_back_to = serializers.SerializerMethodField()

    def to_representation(self, task):
        return {**super().to_representation(task), "send_back_to": self.get_send_back_to(task)}

    def get_send_back_to(self, task) -> list[str]:
        """Where the assignee may send the case back: the applicant, or an earlier step."""
        if not task.is_open or task.kind != TaskKind.APPROVAL or not task.flow_task.allow_send_back:
            return []
        return ["applicant", *services.earlier_steps(task)]


def _comment():
    return serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class CompleteSerializer(serializers.Serializer):
    decision = serializers.CharField(max_length=20)
    comment = _comment()
    data = serializers.DictField(required=False, default=dict)


class TransferSerializer(serializers.Serializer):
    to = serializers.CharField(max_length=150, help_text="username")
    comment = _comment()


class AddApproverSerializer(serializers.Serializer):
    user = serializers.CharField(max_length=150, help_text="username")
    position = serializers.ChoiceField(choices=services.ADD_POSITIONS)
    comment = _comment()


class SendBackSerializer(serializers.Serializer):
    to_step = serializers.CharField(max_length=60, help_text='"applicant" or an earlier step')
    comment = serializers.CharField(max_length=5000)


class UrgeSerializer(serializers.Serializer):
    comment = _comment()


class CCSerializer(serializers.Serializer):
    users = serializers.ListField(
        child=serializers.CharField(max_length=150), min_length=1, max_length=50
    )
    comment = _comment()


class DelegationSerializer(serializers.ModelSerializer):
    delegator = UserRefSerializer(read_only=True)
    delegate = UserRefSerializer(read_only=True)
    active = serializers.SerializerMethodField()

    class Meta:
        model = Delegation
        fields = [
            "id",
            "delegator",
            "delegate",
            "starts_at",
            "ends_at",
            "reason",
            "revoked_at",
            "active",
        ]

    def get_active(self, obj) -> bool:
        now = timezone.now()
        return obj.revoked_at is None and obj.starts_at <= now < obj.ends_at


class DelegationInSerializer(serializers.Serializer):
    delegate = serializers.CharField(max_length=150, help_text="username")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


VIEWS = {"inbox": selectors.inbox, "queue": selectors.queue, "archive": selectors.archive}


class TaskList(generics.ListAPIView):
    """My tasks: `view=inbox` (assigned to me, the default), `queue` (I may claim) or `archive`
    (decided by me). Filters: `process`, `step`, `overdue`."""

    serializer_class = TaskSerializer

    def _view(self):
        # Empty, like every optional filter, means not given.
        return self.request.query_params.get("view") or "inbox"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return CaseTask.objects.none()
        params = self.request.query_params
        view = self._view()
        if view not in VIEWS:
            raise ValidationError(
                {"view": [_("Choose one of: %(choices)s.") % {"choices": ", ".join(VIEWS)}]}
            )
        try:
            overdue = StrictNullBooleanField().clean(params.get("overdue"))
        except DjangoValidationError as exc:
            raise ValidationError({"overdue": exc.messages}) from None
        if (
            view == "inbox"
            and not (params.get("process") or params.get("step"))
            and overdue is None
        ):
            return selectors.InboxPages(self.request.user)
        qs = VIEWS[view](self.request.user)
        if params.get("process"):
            qs = qs.filter(case__process=params["process"])
        if params.get("step"):
            qs = qs.filter(selectors.step_q(params["step"]))
        if overdue is True:
            qs = qs.filter(status__in=OPEN_STATUSES, due_at__lt=timezone.now())
        elif overdue is False:
            qs = qs.filter(Q(due_at__isnull=True) | Q(due_at__gte=timezone.now()))
        order = "-finished" if view == "archive" else "created"
        return PagesWithTotal(qs.order_by(order, "pk").only(*selectors.LIST_COLUMNS))

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
        if self._view() != "inbox":
            return super().get(request, *args, **kwargs)
        # The inbox finds a person's open tasks by key: plans are reused, tables joined in the
        # order written (core.plans).
        with transaction.atomic():
            plans.generic_plans()
            return super().get(request, *args, **kwargs)


class TaskDetail(generics.RetrieveAPIView):
    serializer_class = TaskDetailSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CaseTask.objects.none()
        return selectors.tasks_in_reach(self.request.user)

    @extend_schema(tags=["tasks"], responses={200: TaskDetailSerializer, 404: ErrorSerializer})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class _TaskAction(APIView):
    """An operation on a task. Each honours an `Idempotency-Key`: a client that lost the answer
    (a dropped connection) sends the same request again and gets the first answer back,
    instead of a 409 for a task it already decided."""

    def respond(self, task):
        """The task as the change left it. The service checked the caller's reach before
        acting, so a plain read by id will do (a transfer may even have moved the task out
        of it); the read brings the related rows the JSON shows."""
        fresh = (
            CaseTask.objects.select_related(
                "case", "owner", "candidate_organization", "completed_by", "on_behalf_of"
            )
            .filter(pk=task.pk)
            .first()
        )
        return Response(TaskSerializer(fresh or task).data)

    def body(self, serializer_class):
        body = serializer_class(data=self.request.data)
        body.is_valid(raise_exception=True)
        return body.validated_data


class ClaimTask(_TaskAction):
    @extend_schema(tags=["tasks"], request=None, responses={200: TaskSerializer, **ERRORS})
    @idempotent
    def post(self, request, pk):
        return self.respond(services.claim(task_id=pk, user=request.user))


class ReleaseTask(_TaskAction):
    @extend_schema(tags=["tasks"], request=None, responses={200: TaskSerializer, **ERRORS})
    @idempotent
    def post(self, request, pk):
        return self.respond(services.release(task_id=pk, user=request.user))


class CompleteTask(_TaskAction):
    @extend_schema(
        tags=["tasks"], request=CompleteSerializer, responses={200: TaskSerializer, **ERRORS}
    )
    @idempotent
    def post(self, request, pk):
        task = services.complete(task_id=pk, user=request.user, **self.body(CompleteSerializer))
        # The decided task as the service saved it, read under the lock with all it shows: the
        # decision changes only this row of it (tests/approvals/test_tasks_api.py).
        return Response(TaskSerializer(task).data)


class TransferTask(_TaskAction):
    """转交: hand your task to another eligible person."""

    @extend_schema(
        tags=["tasks"], request=TransferSerializer, responses={200: TaskSerializer, **ERRORS}
    )
    @idempotent
    def post(self, request, pk):
        return self.respond(
            services.transfer(task_id=pk, user=request.user, **self.body(TransferSerializer))
        )


class AddApprover(_TaskAction):
    """加签: `before` (they give their opinion first), `after` (they decide next) or
    `parallel` (they must approve too)."""

    @extend_schema(
        tags=["tasks"], request=AddApproverSerializer, responses={200: TaskSerializer, **ERRORS}
    )
    @idempotent
    def post(self, request, pk):
        data = self.body(AddApproverSerializer)
        task = services.add_approver(
            task_id=pk,
            user=request.user,
            approver=data["user"],
            position=data["position"],
            comment=data["comment"],
        )
        return self.respond(task)


class SendBack(_TaskAction):
    """退回: to an earlier step (`to_step`) or to the applicant for supplement (`applicant`)."""

    @extend_schema(
        tags=["tasks"], request=SendBackSerializer, responses={200: TaskSerializer, **ERRORS}
    )
    @idempotent
    def post(self, request, pk):
        return self.respond(
            services.send_back(task_id=pk, user=request.user, **self.body(SendBackSerializer))
        )


class UrgeTask(_TaskAction):
    """催办: remind whoever holds the task (once per task within the configured hours)."""

    @extend_schema(
        tags=["tasks"],
        request=UrgeSerializer,
        responses={200: TaskSerializer, 429: ErrorSerializer, **ERRORS},
    )
    @idempotent
    def post(self, request, pk):
        return self.respond(
            services.urge(task_id=pk, user=request.user, **self.body(UrgeSerializer))
        )


class CCTask(_TaskAction):
    """抄送: give people read access to the case and notify them."""

    @extend_schema(tags=["tasks"], request=CCSerializer, responses={200: TaskSerializer, **ERRORS})
    @idempotent
    def post(self, request, pk):
        return self.respond(services.cc(task_id=pk, user=request.user, **self.body(CCSerializer)))


class DelegationList(generics.ListAPIView):
    """代理: my out-of-office delegations (given and received); POST declares one."""

    serializer_class = DelegationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Delegation.objects.none()
        user = self.request.user
        return (
            Delegation.objects.filter(Q(delegator=user) | Q(delegate=user))
            .select_related("delegator", "delegate")
            .order_by("-starts_at", "-pk")
        )

    @extend_schema(tags=["delegations"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["delegations"],
        request=DelegationInSerializer,
        responses={201: DelegationSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
    )
    @idempotent
    def post(self, request):
        body = DelegationInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        delegation = services.create_delegation(user=request.user, **body.validated_data)
        return Response(DelegationSerializer(delegation).data, status=201)


class RevokeDelegation(APIView):
    @extend_schema(
        tags=["delegations"],
        request=None,
        responses={200: DelegationSerializer, 404: ErrorSerializer},
    )
    def post(self, request, pk):
        delegation = services.revoke_delegation(user=request.user, delegation_id=pk)
        return Response(DelegationSerializer(delegation).data)


urlpatterns = [
    path("tasks/", TaskList.as_view(), name="api-task-list"),
    path("tasks/<int:pk>/", TaskDetail.as_view(), name="api-task-detail"),
    path("tasks/<int:pk>/claim/", ClaimTask.as_view(), name="api-task-claim"),
    path("tasks/<int:pk>/release/", ReleaseTask.as_view(), name="api-task-release"),
    path("tasks/<int:pk>/complete/", CompleteTask.as_view(), name="api-task-complete"),
    path("tasks/<int:pk>/transfer/", TransferTask.as_view(), name="api-task-transfer"),
    path("tasks/<int:pk>/add-approver/", AddApprover.as_view(), name="api-task-add-approver"),
    path("tasks/<int:pk>/send-back/", SendBack.as_view(), name="api-task-send-back"),
    path("tasks/<int:pk>/urge/", UrgeTask.as_view(), name="api-task-urge"),
    path("tasks/<int:pk>/cc/", CCTask.as_view(), name="api-task-cc"),
    path("delegations/", DelegationList.as_view(), name="api-delegation-list"),
    path("delegations/<int:pk>/revoke/", RevokeDelegation.as_view(), name="api-delegation-revoke"),
]
