"""Enrollment-portal URLs, mounted under ``/enroll/`` (no console account needed)."""

from django.urls import path

from portal.views import enroll

app_name = "enroll"

urlpatterns = [
    path("<str:code>", enroll.enroll_page, name="page"),
    path("<str:code>/status", enroll.enroll_status, name="status"),
    path("<str:code>/renew", enroll.enroll_renew, name="renew"),
]
