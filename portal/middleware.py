"""Security headers of the console and the enrollment portal; the console's second-factor rule."""

from collections.abc import Callable
from urllib.parse import urlsplit

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from hermod_core.api.middleware import is_api_path
from portal.account_selectors import console_mfa_required
from portal.roles import role_of
from portal.services.accounts import (
    MFA_SETUP_SESSION_KEY,
    SECOND_FACTORS,
)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class ContentSecurityPolicyMiddleware:
    """Sets a strict Content-Security-Policy on every page outside the API.

    The pages carry no inline script or style (JavaScript lives in ``static/hermod/console.js``,
    styles in ``hermod.css``), so nothing needs ``'unsafe-inline'``. The API and Swagger UI
    (under ``/hermod/``) are left alone: they serve JSON, or a page this project does not write.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_api_path(request.path):
            response.headers.setdefault("Content-Security-Policy", content_security_policy())
        return response


def content_security_policy() -> str:
    """The policy; with single sign-on on, ``form-action`` also admits the identity provider's
    origin, where the login page's "Sign in with …" POST is redirected (browsers check
    ``form-action`` on a form's redirects too)."""
    issuer = urlsplit(settings.HERMOD_OIDC_ISSUER)
    if not issuer.scheme or not issuer.netloc:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {issuer.scheme}://{issuer.netloc}"
    )


# Console paths an account without a required second factor may still open: setting one up
# (and the password re-check it asks for), and signing out.
SECOND_FACTOR_SETUP_PATHS = ("/console/mfa/", "/console/account/", "/console/logout/")


class SecondFactorRequiredMiddleware:
    """When an admin made a second factor mandatory (``ConsoleSecurity.require_mfa``), a console
    account that signed in without TOTP or a passkey is sent to the set-up page before anything
    else.

    The sign-in marks such a session (``portal.signin``; turning the rule on ends the sessions of
    accounts without a factor, so every one signs in again), so an unmarked request costs no
    query; a marked one checks whether the rule still holds and the account still has no factor.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path.startswith(SECOND_FACTOR_SETUP_PATHS) and request.user.is_authenticated:
            # allauth's pages are not console views: give their frame the console's navigation.
            request.console_role = role_of(request.user)  # type: ignore[attr-defined]
        elif (
            path.startswith("/console/")
            and request.session.get(MFA_SETUP_SESSION_KEY)
            and self._still_required(request)
        ):
            messages.warning(
                request,
                "An admin requires a second factor for every console account: add an "
                "authenticator app (TOTP) or a passkey to go on.",
            )
            return redirect(reverse("mfa_index"))
        return self.get_response(request)

    @staticmethod
    def _still_required(request: HttpRequest) -> bool:
        if console_mfa_required() and not is_mfa_enabled(request.user, SECOND_FACTORS):
            return True
        request.session.pop(MFA_SETUP_SESSION_KEY, None)
        return False
