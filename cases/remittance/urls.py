from django.urls import path

from . import views

urlpatterns = [
    path("remittance/declare/", views.declare, name="remittance-declare"),
    path("remittance/overview/", views.overview, name="remittance-overview"),
]
