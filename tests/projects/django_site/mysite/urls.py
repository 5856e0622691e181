from django.urls import path

from . import views

urlpatterns = [
    path("report", views.report),
    path("report-async", views.report_async),
]
