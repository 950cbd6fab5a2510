"""The caller's own inbox: list, unread count, mark one or all as read."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.rest import ErrorSerializer

from . import selectors, services
from .models import Notification

TAGS = ["notifications"]


class NotificationCaseSerializer(serializers.Serializer):
    # Named apart from approvals.api.CaseRefSerializer: one OpenAPI component per name.
    id = serializers.IntegerField()
    number = serializers.CharField()


class NotificationSerializer(serializers.ModelSerializer):
    case = NotificationCaseSerializer(allow_null=True, read_only=True)
    read = serializers.BooleanField(source="is_read", read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "verb", "title", "body", "case", "data", "created_at", "read_at", "read"]
        read_only_fields = fields


class InboxQuerySerializer(serializers.Serializer):
    # allow_null: without it DRF reads a missing boolean query parameter as False.
    unread = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="true: only unread; false: only read; absent: all.",
    )


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField()


class NotificationListView(generics.ListAPIView):
    serializer_class = NotificationSerializer
    filter_backends = []  # the one filter is parsed below, with a 400 for a bad value

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Notification.objects.none()
        params = InboxQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return selectors.inbox(user=self.request.user, unread=params.validated_data.get("unread"))

    @extend_schema(
        summary="My notifications, newest first",
        parameters=[InboxQuerySerializer],
        responses={
            200: NotificationSerializer(many=True),
            400: ErrorSerializer,
            401: ErrorSerializer,
        },
        tags=TAGS,
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class UnreadCountView(APIView):
    @extend_schema(
        summary="How many of my notifications are unread",
        responses={200: UnreadCountSerializer, 401: ErrorSerializer},
        tags=TAGS,
    )
    def get(self, request):
        return Response({"unread": selectors.unread_count(user=request.user)})


class MarkReadView(APIView):
    @extend_schema(
        summary="Mark one of my notifications as read",
        request=None,
        responses={200: NotificationSerializer, 401: ErrorSerializer, 404: ErrorSerializer},
        tags=TAGS,
    )
    def post(self, request, pk):
        notification = services.mark_read(user=request.user, notification_id=pk)
        return Response(NotificationSerializer(notification).data)


class MarkAllReadView(APIView):
    @extend_schema(
        summary="Mark all my notifications as read",
        request=None,
        responses={200: MarkedSerializer, 401: ErrorSerializer},
        tags=TAGS,
    )
    def post(self, request):
        return Response({"marked": services.mark_all_read(user=request.user)})


urlpatterns = [
    path("notifications/", NotificationListView.as_view(), name="api-notification-list"),
    path(
        "notifications/unread-count/",
        UnreadCountView.as_view(),
        name="notification-unread-count",
    ),
    path("notifications/read-all/", MarkAllReadView.as_view(), name="api-notification-read-all"),
    path("notifications/<int:pk>/read/", MarkReadView.as_view(), name="api-notification-read"),
]
