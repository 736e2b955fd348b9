"""Console single sign-on with OpenID Connect against a real provider run by the test
(``tests/portal/oidc_provider.py``): the authorization-code flow with PKCE, a signed ID token
the console verifies, a claim mapped to the console roles, refusals audited with their reason."""

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from allauth.mfa.totp.internal.auth import TOTP
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client as HttpClient
from django.urls import reverse

from hermod_core.models import AuditEvent
from portal.roles import Role, role_of
from portal.sso import PROVIDER_ID
from tests.portal.oidc_provider import (
    Provider,
    _new_key,
    configured_provider,
)
from tests.totp import SECRET, totp

IP = "10.0.0.8"


@pytest.fixture
def provider(settings: Any, db: None) -> Iterator[Provider]:
    cache.clear()  # allauth keeps used ID-token ids (jti) in the cache
    with configured_provider(settings) as running:
        yield running


def _sso(provider: Provider, **claims: Any) -> tuple[HttpClient, Any]:
    """The browser's part of the flow: the login page's button, the provider, the callback."""
    provider.claims = {"sub": "u-1", "preferred_username": "sam", **claims}
    http = HttpClient(REMOTE_ADDR=IP)
    page = http.get(reverse("portal:login")).content.decode()
    assert "Sign in with Example IdP" in page
    start = http.post(reverse("openid_connect_login", args=[PROVIDER_ID]))
    assert start.status_code == 302
    assert start["Location"].startswith(f"{provider.issuer}/authorize?")
    back = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["Location"])
    assert callback.path == reverse("openid_connect_callback", args=[PROVIDER_ID])
    return http, http.get(f"{callback.path}?{callback.query}")


def _role(username: str) -> Role | None:
    return role_of(User.objects.get(username=username))


def test_an_admin_claim_creates_an_admin_account_and_signs_in(provider: Provider) -> None:
    http, response = _sso(provider, groups=["staff", "hermod-admin"])
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:dashboard")
    assert http.get(reverse("portal:accounts")).status_code == 200  # an admin page
    assert _role("sam") is Role.ADMIN
    assert not User.objects.get(username="sam").has_usable_password()
    assert SocialAccount.objects.get(user__username="sam").uid == "u-1"
    created = AuditEvent.objects.get(action="console.account_created")
    assert (created.actor, created.details) == ("single sign-on", {"role": "admin", "via": "sso"})
    login = AuditEvent.objects.get(action="console.login", target_id="sam", ip=IP)
    assert login.details == {"via": ["sso"]}
    assert provider.token_requests == 1


def test_an_operator_claim_gives_an_operator(provider: Provider) -> None:
    http, _ = _sso(provider, groups=["hermod-operator"])
    assert http.get(reverse("portal:dashboard")).status_code == 200
    assert http.get(reverse("portal:accounts")).status_code == 403
    assert _role("sam") is Role.OPERATOR


def test_the_role_follows_the_claim_at_every_sign_in(provider: Provider, admin_user) -> None:
    _sso(provider, groups=["hermod-operator"])
    _sso(provider, groups=["hermod-admin"])
    assert _role("sam") is Role.ADMIN
    change = AuditEvent.objects.get(action="console.account_role")
    assert (change.actor, change.details) == ("single sign-on", {"from": "operator", "to": "admin"})


@pytest.mark.parametrize("groups", [[], ["staff"], "nothing", None])
def test_no_matching_claim_is_refused_and_audited_with_the_reason(
    provider: Provider, groups: Any
) -> None:
    claims = {} if groups is None else {"groups": groups}
    http, response = _sso(provider, **claims)
    assert response.status_code == 403
    assert "does not let you in" in response.content.decode()
    assert not User.objects.filter(username="sam").exists()
    assert http.get(reverse("portal:dashboard")).status_code == 302
    refused = AuditEvent.objects.get(action="console.login_sso_refused")
    assert refused.target_id == "sam"
    assert "'groups' holds no value that maps to a console role" in refused.details["reason"]


def test_a_claim_taken_away_at_the_provider_shuts_the_door(provider: Provider) -> None:
    _sso(provider, groups=["hermod-operator"])
    http, response = _sso(provider, groups=["staff"])
    assert response.status_code == 403
    assert http.get(reverse("portal:dashboard")).status_code == 302


def test_an_id_token_signed_with_another_key_is_refused(provider: Provider) -> None:
    provider.signing_key = _new_key()  # not the key the JWKS publishes
    http, response = _sso(provider, groups=["hermod-admin"])
    assert response.status_code == 401
    assert http.get(reverse("portal:dashboard")).status_code == 302
    assert not User.objects.filter(username="sam").exists()
    refused = AuditEvent.objects.get(action="console.login_sso_refused")
    assert "refused" in refused.details["reason"]


def test_a_local_account_is_not_taken_over_by_its_name(provider: Provider) -> None:
    User.objects.create_user("sam", password="local password 123")
    http, response = _sso(provider, groups=["hermod-admin"])
    assert response.status_code == 403
    assert _role("sam") is None
    assert http.get(reverse("portal:dashboard")).status_code == 302
    refused = AuditEvent.objects.get(action="console.login_sso_refused")
    assert "not made by single sign-on" in refused.details["reason"]


def test_a_disabled_sso_account_is_refused_and_audited(provider: Provider) -> None:
    _sso(provider, groups=["hermod-operator"])
    User.objects.filter(username="sam").update(is_active=False)
    http, response = _sso(provider, groups=["hermod-operator"])
    assert response["Location"] == reverse("portal:login")
    assert http.get(reverse("portal:dashboard")).status_code == 302
    assert AuditEvent.objects.filter(
        action="console.login_failed", target_id="sam", details={"reason": "disabled"}
    ).exists()


def test_the_callback_without_a_started_flow_signs_nobody_in(provider: Provider) -> None:
    http = HttpClient()
    response = http.get(
        reverse("openid_connect_callback", args=[PROVIDER_ID]), {"code": "x", "state": "y"}
    )
    assert response.status_code in {400, 401}
    assert http.get(reverse("portal:dashboard")).status_code == 302
    assert provider.token_requests == 0


def test_without_configuration_there_is_no_sso(db: None, settings: Any) -> None:
    settings.HERMOD_OIDC_ISSUER = ""
    assert "Sign in with" not in HttpClient().get(reverse("portal:login")).content.decode()
    response = HttpClient().post(reverse("openid_connect_login", args=[PROVIDER_ID]))
    assert response.status_code == 404


def test_the_login_page_may_send_its_form_on_to_the_provider_and_nowhere_else(
    provider: Provider,
) -> None:
    policy = HttpClient().get(reverse("portal:login"))["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["form-action"] == f"'self' {provider.issuer}"


def test_an_sso_account_sets_up_a_required_second_factor_without_a_password(
    provider: Provider, admin, admin_user
) -> None:
    TOTP.activate(admin_user, SECRET)
    admin.post(reverse("portal:console_mfa_rule"), {"require_mfa": "1"})
    http, _ = _sso(provider, groups=["hermod-operator"])
    assert http.get(reverse("portal:dashboard"))["Location"] == reverse("mfa_index")
    page = http.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200  # no password to re-enter: straight to the set-up
    secret = http.session["mfa.totp.secret"]
    http.post(reverse("mfa_activate_totp"), {"code": totp(secret)})
    assert http.get(reverse("portal:dashboard")).status_code == 200
