"""Optional console single sign-on with OpenID Connect (django-allauth's ``openid_connect``
provider), configured from ``HERMOD_OIDC_*``.

The provider's ID token is always verified against its published keys (allauth skips the
signature when the token came straight from the token endpoint; Hermod does not), the code
exchange uses PKCE, and a claim (``HERMOD_OIDC_ROLE_CLAIM``, ``groups`` by default) decides the
console role at every sign-in: no matching value, no entry (audited with the reason). A first
sign-in creates the account; a name already taken by a local account is refused rather than
taken over.
"""

from typing import Any, NoReturn

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp, SocialLogin
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from hermod_core.proxies import client_address
from portal.account_selectors import account_get_by_name
from portal.roles import Role
from portal.services.accounts import (
    AccountError,
    account_sso_role_sync,
    sso_refusal_record,
)

PROVIDER_ID = "hermod-sso"


def role_from_claims(claims: dict[str, Any]) -> Role | None:
    """The console role the identity provider's claims grant: admin if the role claim holds one
    of ``HERMOD_OIDC_ADMIN_VALUES``, else operator for ``HERMOD_OIDC_OPERATOR_VALUES``, else
    none. The claim may be a list of strings or one string."""
    value = claims.get(settings.HERMOD_OIDC_ROLE_CLAIM)
    values = {value} if isinstance(value, str) else set(value) if isinstance(value, list) else set()
    if values & set(settings.HERMOD_OIDC_ADMIN_VALUES):
        return Role.ADMIN
    if values & set(settings.HERMOD_OIDC_OPERATOR_VALUES):
        return Role.OPERATOR
    return None


def _claims(sociallogin: SocialLogin) -> dict[str, Any]:
    data = sociallogin.account.extra_data or {}
    return {**(data.get("id_token") or {}), **(data.get("userinfo") or {})}


class ConsoleSocialAccountAdapter(DefaultSocialAccountAdapter):  # type: ignore[misc]
    def _refuse(self, request: HttpRequest, *, subject: str, reason: str) -> NoReturn:
        sso_refusal_record(subject=subject, ip=client_address(request), reason=reason)
        response = render(request, "portal/auth/sso_refused.html", {"reason": reason}, status=403)
        raise ImmediateHttpResponse(response)

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        """The provider vouched for the person: decide the role, or refuse (audited)."""
        claims = _claims(sociallogin)
        name = str(claims.get("preferred_username") or claims.get("sub") or "")
        role = role_from_claims(claims)
        if role is None:
            claim = settings.HERMOD_OIDC_ROLE_CLAIM
            self._refuse(
                request,
                subject=name,
                reason=f"the claim {claim!r} holds no value that maps to a console role",
            )
        if sociallogin.is_existing:
            user: AbstractUser = sociallogin.user
            try:
                account_sso_role_sync(user=user, role=role.value, ip=client_address(request))
            except AccountError as exc:
                self._refuse(request, subject=name, reason=str(exc))
        elif account_get_by_name(name) is not None:
            self._refuse(
                request,
                subject=name,
                reason=f"the name {name!r} belongs to a console account not made by single sign-on",
            )

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True  # pre_social_login has refused everyone without a role

    def is_auto_signup_allowed(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> Any:
        user = super().save_user(request, sociallogin, form)
        role = role_from_claims(_claims(sociallogin))
        assert role is not None  # checked in pre_social_login
        account_sso_role_sync(user=user, role=role.value, ip=client_address(request), new=True)
        return user

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: Any = None,
        extra_context: Any = None,
    ) -> None:
        reason = f"the provider's answer was refused ({error or 'unknown'}"
        reason += f": {exception})" if exception else ")"
        sso_refusal_record(subject="", ip=client_address(request), reason=reason)


class VerifiedOIDCAdapter(OpenIDConnectOAuth2Adapter):  # type: ignore[misc]
    """allauth's OIDC adapter, but the ID token's signature is checked in every case."""

    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict[str, Any]:
        data: dict[str, Any] = jwtkit.verify_and_decode(
            credential=id_token,
            keys_url=self.openid_config["jwks_uri"],
            issuer=self.openid_config["issuer"],
            audience=app.client_id,
            lookup_kid=jwtkit.lookup_kid_jwk,
            verify_signature=True,
        )
        return data


def _adapter_view(request: HttpRequest, provider_id: str, view: Any) -> HttpResponse:
    if provider_id != PROVIDER_ID or not settings.HERMOD_OIDC_ISSUER:
        raise Http404
    try:
        response: HttpResponse = view.adapter_view(VerifiedOIDCAdapter(request, provider_id))(
            request
        )
    except SocialApp.DoesNotExist:
        raise Http404 from None
    return response


@require_POST
def sso_login(request: HttpRequest, provider_id: str) -> HttpResponse:
    """Start the authorization-code flow (a POST from the login page, with its CSRF token)."""
    return _adapter_view(request, provider_id, OAuth2LoginView)


@require_GET
def sso_callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    """The provider sends the browser back here with the code."""
    return _adapter_view(request, provider_id, OAuth2CallbackView)
