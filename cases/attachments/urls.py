from django.urls import path

from . import views

urlpatterns = [
    path("cases/<int:pk>/attachments/", views.case_attachments, name="attachments-case"),
    path("attachments/<int:pk>/download/", views.download, name="attachments-download"),
]
