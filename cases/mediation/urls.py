"""Pages of labor-dispute mediation (the API lives in api.py under /api/v1/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("mediation/apply/", views.apply, name="mediation-apply"),
    path(
        "mediation/cases/<int:pk>/sessions/",
        views.record_session,
        name="mediation-record-session",
    ),
    path(
        "mediation/cases/<int:pk>/signatures/",
        views.record_signature,
        name="mediation-record-signature",
    ),
    path(
        "mediation/cases/<int:pk>/agreement/withdraw/",
        views.withdraw_agreement,
        name="mediation-withdraw-agreement",
    ),
    path(
        "mediation/cases/<int:pk>/extensions/",
        views.record_extension,
        name="mediation-record-extension",
    ),
    path(
        "mediation/cases/<int:pk>/recusals/",
        views.request_recusal,
        name="mediation-request-recusal",
    ),
    path(
        "mediation/cases/<int:pk>/recusals/<int:rid>/decide/",
        views.decide_recusal,
        name="mediation-decide-recusal",
    ),
]
