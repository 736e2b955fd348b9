"""Root URLs: the API under HERMOD_API_PREFIX and its unprefixed aliases, docs, console, health."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from hermod_core.api import urls as api_urls
from hermod_core.api.errors import error_response
from hermod_core.api.metrics_view import metrics_view
from hermod_core.api.middleware import is_api_path
from hermod_core.api.util_views import healthz, livez

prefix = settings.HERMOD_API_PREFIX

urlpatterns = [
    path(f"{prefix}/", include((api_urls.util_urlpatterns, "util"))),
    path(f"{prefix}/command/", include((api_urls.command_urlpatterns, "command"))),
    path(f"{prefix}/ms/", include((api_urls.mailbox_urlpatterns, "ms"))),
    path(f"{prefix}/ca/", include((api_urls.ca_urlpatterns, "ca"))),
    # The layout of the containerised and hosted deployments (docs/PROTOCOL.md §2).
    path("command/", include((api_urls.command_urlpatterns, "command-alias"))),
    path("ms/", include((api_urls.mailbox_urlpatterns, "ms-alias"))),
    path("ca/", include((api_urls.ca_urlpatterns, "ca-alias"))),
    # The real product's guides curl /util/generateclient/<id> on either layout.
    path("", include((api_urls.util_urlpatterns, "util-alias"))),
    path("hermod/v3/api-docs", SpectacularAPIView.as_view(), name="schema"),
    path("hermod/swagger-ui/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("livez", livez, name="livez"),
    path("console/", include("portal.urls")),
    path("enroll/", include("portal.enroll_urls")),
    path("", lambda request: redirect("portal:dashboard")),
]


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request.path):
        return error_response(404, "NOT_FOUND", "No such resource.")
    return render(request, "404.html", status=404)


def handler500(request: HttpRequest) -> HttpResponse:
    if is_api_path(request.path):
        return error_response(500, "INTERNAL_ERROR", "An internal error occurred.")
    return render(request, "500.html", status=500)
