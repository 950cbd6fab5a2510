"""A create endpoint for the sample process, shaped like the real ones (201 + case JSON,
Idempotency-Key honored)."""

from django.urls import include, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.api import CaseSerializer, with_open_tasks
from cases.selectors import cases_in_reach
from cases.services import submit_case
from core.api import idempotent
from core.errors import Invalid
from organizations.selectors import member_union


class SampleCaseIn(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)


class SampleCases(APIView):
    @extend_schema(request=SampleCaseIn, responses={201: CaseSerializer})
    @idempotent
    def post(self, request):
        body = SampleCaseIn(data=request.data)
        body.is_valid(raise_exception=True)
        union = member_union(request.user)
        if union is None:
            raise Invalid(
                "Only members of a union may apply.", fields={"organization": ["No union."]}
            )
        case = submit_case(
            process="sample",
            organization=union,
            applicant=request.user,
            submitted_by=request.user,
            **body.validated_data,
        )
        case = with_open_tasks(cases_in_reach(request.user)).get(pk=case.pk)
        return Response(CaseSerializer(case).data, status=status.HTTP_201_CREATED)


from project.urls import handler400, handler404, handler500  # noqa: E402, F401  (the project's error pages)

urlpatterns = [
    path("api/v1/sample-cases/", SampleCases.as_view()),
    path("", include("project.urls")),
]
