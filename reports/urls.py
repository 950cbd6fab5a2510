from django.urls import path

from . import views

urlpatterns = [
    path("reports/", views.dashboard, name="reports-dashboard"),
    path("reports/cases/", views.figure_cases, name="reports-cases"),
    path("reports/cases/export/", views.export_cases, name="reports-cases-export"),
    path(
        "reports/cases/<int:pk>/trail.pdf",
        views.trail_file,
        {"fmt": "pdf"},
        name="reports-trail-pdf",
    ),
    path(
        "reports/cases/<int:pk>/trail.csv",
        views.trail_file,
        {"fmt": "csv"},
        name="reports-trail-csv",
    ),
    path("reports/summary.xlsx", views.summary_file, {"fmt": "xlsx"}, name="reports-summary-xlsx"),
    path("reports/summary.csv", views.summary_file, {"fmt": "csv"}, name="reports-summary-csv"),
    path("reports/yearly.pdf", views.yearly_file, name="reports-yearly-pdf"),
    path("reports/exports/<int:pk>/", views.export_job, name="reports-export"),
    path(
        "reports/exports/<int:pk>/download/",
        views.export_download,
        name="reports-export-download",
    ),
]
