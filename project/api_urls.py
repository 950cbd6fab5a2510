from django.urls import include, path

urlpatterns = [
    path("", include("core.api")),
    path("", include("organizations.api")),
    path("", include("cases.api")),
    path("", include("approvals.api")),
    path("", include("notifications.api")),
]
