from django.conf import settings
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.i18n import reader_language

from .models import Organization
from .selectors import memberships_of, organizations_in_reach
from .services import choose_language


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(source="display_name")


class OrganizationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()


class OrganizationSerializer(serializers.ModelSerializer):
    parent = serializers.SerializerMethodField()

    class Meta:
        model = Organization
        fields = ["id", "name", "kind", "parent", "depth"]

    def get_parent(self, org) -> int | None:
        return self.context["parents"].get(org.path[: -Organization.steplen])


class MembershipSerializer(serializers.Serializer):
    organization = OrganizationRefSerializer()
    role = serializers.CharField()
    role_label = serializers.CharField(source="get_role_display")


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(source="display_name")
    email = serializers.EmailField()
    is_superuser = serializers.BooleanField()
    language = serializers.CharField(
        help_text="The language notifications and emails are written in (and the pages shown "
        "in, once signed in): one of settings.LANGUAGES."
    )
    memberships = MembershipSerializer(many=True)


class MeUpdateSerializer(serializers.Serializer):
    language = serializers.ChoiceField(choices=settings.LANGUAGES)


class MeView(APIView):
    @extend_schema(responses=MeSerializer, tags=["people"])
    def get(self, request):
        return Response(self._me(request.user))

    @extend_schema(request=MeUpdateSerializer, responses=MeSerializer, tags=["people"])
    def patch(self, request):
        """Choose one's language (what the pages' switch does)."""
        serializer = MeUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        choose_language(user=request.user, language=serializer.validated_data["language"])
        return Response(self._me(request.user))

    @staticmethod
    def _me(user):
        data = {
            "id": user.pk,
            "username": user.username,
            "display_name": user.display_name,
            "email": user.email,
            "is_superuser": user.is_superuser,
            "language": reader_language(user),
            "memberships": memberships_of(user),
        }
        return MeSerializer(data).data


class OrganizationList(generics.ListAPIView):
    """The union tree within the caller's reach, parents before children."""

    serializer_class = OrganizationSerializer

    def get_queryset(self):
        return organizations_in_reach(self.request.user).order_by("path")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        # One extra query for all parent ids, whatever the page size.
        page_paths = {o.path[: -Organization.steplen] for o in getattr(self, "_page", [])}
        context["parents"] = dict(
            Organization.objects.filter(path__in=page_paths).values_list("path", "pk")
        )
        return context

    def paginate_queryset(self, queryset):
        self._page = super().paginate_queryset(queryset)
        return self._page

    @extend_schema(tags=["people"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path("me/", MeView.as_view(), name="api-me"),
    path("organizations/", OrganizationList.as_view(), name="api-organization-list"),
]
