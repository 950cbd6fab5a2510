"""Attachments of a case: upload (multipart), list, download."""

from django.http import FileResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.selectors import case_in_reach
from core.api import idempotent
from core.errors import NotFound
from core.rest import ErrorSerializer
from organizations.api import UserRefSerializer

from . import services
from .models import Attachment
from .uploads import limit_uploads

ERRORS = dict.fromkeys((400, 403, 404, 409), ErrorSerializer)


class AttachmentSerializer(serializers.ModelSerializer):
    filename = serializers.CharField(source="original_name")
    uploaded_by = UserRefSerializer()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = [
            "id",
            "case",
            "kind",
            "filename",
            "content_type",
            "size",
            "sha256",
            "uploaded_by",
            "uploaded_at",
            "download_url",
        ]

    def get_download_url(self, attachment) -> str:
        return f"/api/v1/attachments/{attachment.pk}/download/"


class UploadSerializer(serializers.Serializer):
    """Multipart form: the file and what it is."""

    file = serializers.FileField(required=False, help_text="PDF, JPEG or PNG (by content)")
    kind = serializers.CharField(
        max_length=30, help_text="id_card, income_proof, diagnosis, admission_letter, other"
    )


def _case_or_404(request, pk):
    case = case_in_reach(request.user, pk)
    if case is None:
        raise NotFound()
    return case


class CaseAttachments(generics.ListAPIView):
    """GET: the case's attachments (anyone with the case in reach). POST (multipart `file`,
    `kind`): add one — the applicant while the case is in progress, officers acting on it."""

    serializer_class = AttachmentSerializer
    parser_classes = [MultiPartParser, FormParser]

    def initialize_request(self, request, *args, **kwargs):
        # Before authentication: session authentication's CSRF check reads the body.
        if request.method == "POST" and "pk" in kwargs:  # not for the schema's fake request
            limit_uploads(request, case_id=kwargs["pk"])
        return super().initialize_request(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Attachment.objects.none()
        case = _case_or_404(self.request, self.kwargs["pk"])
        return Attachment.objects.filter(case=case).select_related("uploaded_by")

    @extend_schema(tags=["attachments"], responses={200: AttachmentSerializer(many=True)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["attachments"],
        request={"multipart/form-data": UploadSerializer},
        responses={201: AttachmentSerializer, **ERRORS},
    )
    @idempotent
    def post(self, request, pk):
        body = UploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        attachment = services.upload(
            case_id=pk,
            user=request.user,
            file=body.validated_data.get("file"),
            kind=body.validated_data["kind"],
        )
        return Response(AttachmentSerializer(attachment).data, status=201)


class IgnoreAccept(BaseContentNegotiation):
    """A download answers with the file whatever the client accepts (and errors in JSON)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class DownloadAttachment(APIView):
    """The file itself, as an attachment, to anyone with its case in reach (404 otherwise)."""

    content_negotiation_class = IgnoreAccept

    @extend_schema(
        tags=["attachments"],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file (PDF, JPEG or PNG)"
            ),
            404: ErrorSerializer,
        },
    )
    def get(self, request, pk):
        attachment = Attachment.objects.filter(pk=pk).first()
        if attachment is None or case_in_reach(request.user, attachment.case_id) is None:
            raise NotFound()
        response = FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.download_name,
            content_type=attachment.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


urlpatterns = [
    path("cases/<int:pk>/attachments/", CaseAttachments.as_view(), name="case-attachments"),
    path(
        "attachments/<int:pk>/download/",
        DownloadAttachment.as_view(),
        name="attachment-download",
    ),
]
