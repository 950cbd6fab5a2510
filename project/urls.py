from csp.constants import NONCE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core import views as core_views

# The only exception to the site's content security policy: Swagger UI bootstraps itself with
# an inline script and style, allowed here by a per-request nonce (core/swagger_ui.html), and
# draws its icons from data: URIs.
api_docs = csp_update({"script-src": [NONCE], "style-src": [NONCE], "img-src": ["data:"]})(
    SpectacularSwaggerView.as_view(url_name="schema", template_name="core/swagger_ui.html")
)

urlpatterns = [
    path("", core_views.home, name="home"),
    path("apply/", core_views.apply, name="apply"),
    path("accounts/login/", core_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", core_views.PasswordChangeView.as_view(), name="password-change"),
    path("i18n/setlang/", core_views.set_language, name="set_language"),
    path("", include("approvals.urls")),
    path("", include("cases.urls")),
    path("", include("cases.remittance.urls")),
    path("", include("cases.hardship.urls")),
    path("", include("cases.attachments.urls")),
    path("", include("cases.mediation.urls")),
    path("", include("notifications.urls")),
    path("", include("reports.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api/v1/", include("project.api_urls")),
]

handler400 = "core.views.bad_request"
handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
