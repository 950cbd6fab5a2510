from django.urls import path

from . import views

urlpatterns = [
    path("cases/", views.case_search, name="case-search"),
    path("cases/mine/", views.my_cases, name="my-cases"),
    path("cases/<int:pk>/", views.case_detail, name="case-detail"),
    path("cases/<int:pk>/withdraw/", views.withdraw, name="case-withdraw"),
]
