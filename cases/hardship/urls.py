from django.urls import path

from . import views

urlpatterns = [
    path("hardship/apply/", views.apply, name="hardship-apply"),
    path("hardship/notices/", views.notices, name="hardship-notices"),
    path("hardship/notices/<int:pk>/", views.notice, name="hardship-notice"),
]
