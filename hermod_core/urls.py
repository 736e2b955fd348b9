"""Root URLs: the API under HERMOD_API_PREFIX and its unprefixed aliases, docs, console, health."""

from allauth.account import views as account_views
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from hermod_core.api import urls as api_urls
from hermod_core.api.errors import error_response
from hermod_core.api.metrics_view import metrics_view
from hermod_core.api.middleware import is_api_path
from hermod_core.api.util_views import healthz, livez
from portal.sso import sso_callback, sso_login
from portal.views.auth import ConsoleLogoutView

prefix = settings.HERMOD_API_PREFIX

urlpatterns = [
    path(f"{prefix}/", include((api_urls.util_urlpatterns, "util"))),
    path(f"{prefix}/command/", include((api_urls.command_urlpatterns, "command"))),
    path(f"{prefix}/ms/", include((api_urls.mailbox_urlpatterns, "ms"))),
    path(f"{prefix}/ca/", include((api_urls.ca_urlpatterns, "ca"))),
    # The layout of the containerised and hosted deployments (PROTOCOL.md §2).
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
    # The console's second factor (django-allauth's MFA views) and the names its pages link to.
    path("console/mfa/", include("allauth.mfa.urls")),
    path(
        "console/account/login/",
        RedirectView.as_view(pattern_name="portal:login", query_string=True),
        name="account_login",
    ),
    path("console/account/logout/", ConsoleLogoutView.as_view(), name="account_logout"),
    path(
        "console/account/reauthenticate/",
        account_views.reauthenticate,
        name="account_reauthenticate",
    ),
    path("console/sso/oidc/<str:provider_id>/login/", sso_login, name="openid_connect_login"),
    path(
        "console/sso/oidc/<str:provider_id>/login/callback/",
        sso_callback,
        name="openid_connect_callback",
    ),
    path("console/sso/", include("allauth.socialaccount.urls")),
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
