"""The benchmark's ceiling probes: the app's URLs as deployed plus two probe views.

The harness serves these (``tests/bench/ceiling_settings.py``) with a second gunicorn (same
options, same database) to measure what a
request costs on this machine once it touches PostgreSQL at all, independent of Hermod's code:

- ``GET /ceiling/read``: one ``SELECT 1`` through Django's cursor;
- ``GET /ceiling/write``: one single-row ``INSERT`` (autocommit) into the scratch table
  ``bench_ceiling`` that the harness creates.

Both run behind the same middleware as ``/livez`` (bare), so their ratios to bare are an upper
bound for any endpoint that reads, or writes, a row. Never part of the deployed URLs.
"""

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def read(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return HttpResponse("ok", content_type="text/plain")


def write(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_ceiling (body) VALUES (%s) RETURNING id", ["x" * 200])
        cursor.fetchone()
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("ceiling/read", read),
    path("ceiling/write", write),
    path("", include("hermod_core.urls")),
]
