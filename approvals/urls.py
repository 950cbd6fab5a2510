from django.urls import path

from . import views

urlpatterns = [
    path("tasks/", views.task_list, name="task-list"),
    path("tasks/claim/", views.bulk_claim, name="task-bulk-claim"),
    path("tasks/<int:pk>/", views.task_detail, name="task-detail"),
    path("delegations/", views.delegations, name="delegations"),
]
