from django.urls import include, path

urlpatterns = [
    path("", include("core.api")),
    path("", include("organizations.api")),
    path("", include("cases.api")),
    path("", include("cases.attachments.api")),
    path("", include("cases.hardship.api")),
    path("", include("cases.mediation.api")),
    path("", include("cases.remittance.api")),
    path("", include("approvals.api")),
    path("", include("notifications.api")),
    path("", include("reports.api")),
]
