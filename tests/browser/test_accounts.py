"""Console accounts and sign-in security in Chromium: the Accounts page, an invitation used by
its recipient, a passkey added and used with a virtual authenticator (CDP WebAuthn domain), TOTP
with a computed code and recovery codes, the admin's rule that requires a second factor, and
single sign-on against an OpenID Connect provider run by the test."""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group as AuthGroup
from django.contrib.auth.models import User
from playwright.sync_api import expect

from hermod_core.models import AuditEvent
from portal.roles import ADMIN_GROUP, OPERATOR_GROUP
from portal.services.login import (
    LOGIN_FREE_FAILURES,
    login_failure_record,
)
from tests.browser.conftest import ADMIN_PASSWORD
from tests.portal.oidc_provider import Provider, configured_provider
from tests.totp import totp

pytestmark = pytest.mark.services

NEW_PASSWORD = "a long new passphrase 42"


def _sign_in(page: Any, username: str, password: str) -> None:
    page.goto("/console/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def _admin(username: str = "ada") -> User:
    user = User.objects.create_user(username, password=ADMIN_PASSWORD)
    user.groups.add(AuthGroup.objects.get_or_create(name=ADMIN_GROUP)[0])
    return user


def _reauthenticate_if_asked(page: Any, password: str, screenshot: Any = None) -> None:
    # Adding or removing a factor asks for the password again (allauth's reauthentication).
    if "/console/account/reauthenticate/" in page.url:
        if screenshot is not None:
            screenshot(page, "reauthenticate")
        page.fill("input[name=password]", password)
        page.click("main button[type=submit]")


def test_an_admin_invites_an_operator_who_joins_and_signs_in(
    admin_page: Any, browser: Any, hermod: str, screenshot: Any
) -> None:
    page = admin_page
    page.click("nav >> text=Accounts")
    expect(page.locator("h1")).to_have_text("Console accounts")
    screenshot(page, "accounts")
    form = page.locator("#account-invite")
    form.locator("select[name=role]").select_option("operator")
    form.locator("input[name=email]").fill("olga@example.org")
    form.locator("button[type=submit]").click()
    link = page.locator("#invitation-link").inner_text().strip()
    assert re.fullmatch(re.escape(hermod) + r"/console/join/[\w-]{43}", link)
    screenshot(page, "account-invitation")
    page.reload()
    expect(page.locator("#invitation-link")).to_have_count(0)  # shown once

    guest = browser.new_context(base_url=hermod).new_page()
    guest.goto(link)
    expect(guest.locator("h1")).to_have_text("Create your Hermod console account")
    guest.fill("input[name=username]", "olga")
    guest.fill("input[name=password1]", NEW_PASSWORD)
    guest.fill("input[name=password2]", NEW_PASSWORD)
    screenshot(guest, "account-join")
    guest.click("button[type=submit]")
    expect(guest.locator(".message.success")).to_contain_text("Account olga created")
    _sign_in(guest, "olga", NEW_PASSWORD)
    guest.wait_for_url("**/console/")
    expect(guest.locator(".who")).to_contain_text("olga · operator")
    guest.goto(link)
    expect(guest.locator("h1")).to_have_text("This invitation link is not valid")
    guest.context.close()

    page.goto("/console/accounts/")
    row = page.locator("tr[data-account=olga]")
    expect(row).to_contain_text("operator")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button:has-text('Disable')").click()
    expect(page.locator(".message.success")).to_contain_text("olga is now disabled")
    assert not User.objects.get(username="olga").is_active


def test_an_admin_unlocks_a_throttled_operator(admin_page: Any, screenshot: Any) -> None:
    oscar = User.objects.create_user("oscar", password=NEW_PASSWORD)
    oscar.groups.add(AuthGroup.objects.get_or_create(name=OPERATOR_GROUP)[0])
    for _ in range(LOGIN_FREE_FAILURES + 2):
        login_failure_record(username="oscar", ip="203.0.113.9")
    page = admin_page
    page.goto("/console/accounts/")
    row = page.locator("tr[data-account=oscar]")
    expect(row).to_contain_text("throttled from 1 address")
    screenshot(page, "accounts-throttled")
    row.locator("button:has-text('Unlock')").click()
    expect(page.locator(".message.success")).to_contain_text("oscar: 1 sign-in throttle(s) lifted")
    assert AuditEvent.objects.filter(action="console.account_unlocked", target_id="oscar").exists()


def _virtual_authenticator(page: Any) -> tuple[Any, str]:
    """A platform passkey authenticator (CTAP2, internal, resident keys, user verification)
    in this page's browser, over the Chrome DevTools Protocol; the session and its id."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def test_a_passkey_is_added_and_then_asked_for_at_sign_in(
    localhost_page: Any, screenshot: Any
) -> None:
    page = localhost_page
    _admin()
    cdp, authenticator_id = _virtual_authenticator(page)
    _sign_in(page, "ada", ADMIN_PASSWORD)
    page.wait_for_url("**/console/")
    page.click("header >> text=Security")
    screenshot(page, "security")
    page.goto("/console/mfa/webauthn/add/")
    _reauthenticate_if_asked(page, ADMIN_PASSWORD, screenshot)
    page.wait_for_url("**/console/mfa/webauthn/add/")
    page.fill("input[name=name]", "laptop")
    screenshot(page, "passkey-add")
    page.click("#mfa_webauthn_add")
    page.wait_for_url("**/console/mfa/recovery-codes/")  # the first factor brings recovery codes
    screenshot(page, "recovery-codes")
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    assert len(credentials["credentials"]) == 1
    assert AuditEvent.objects.filter(
        action="console.mfa_added", details={"kind": "webauthn"}
    ).exists()

    page.click("header button:has-text('Log out')")
    _sign_in(page, "ada", ADMIN_PASSWORD)
    page.wait_for_url("**/console/mfa/authenticate/")
    screenshot(page, "mfa-authenticate")
    page.click("#mfa_webauthn_authenticate")
    page.wait_for_url("**/console/")
    expect(page.locator(".who")).to_contain_text("ada · admin")
    login = AuditEvent.objects.filter(action="console.login", target_id="ada").count()
    assert login == 2


def test_totp_set_up_with_a_computed_code_then_required_for_everybody(
    page: Any, browser: Any, hermod: str, screenshot: Any
) -> None:
    _admin()
    oscar = User.objects.create_user("oscar", password=NEW_PASSWORD)
    oscar.groups.add(AuthGroup.objects.get_or_create(name=OPERATOR_GROUP)[0])
    _sign_in(page, "ada", ADMIN_PASSWORD)
    page.wait_for_url("**/console/")
    page.goto("/console/mfa/totp/activate/")
    _reauthenticate_if_asked(page, ADMIN_PASSWORD)
    page.wait_for_url("**/console/mfa/totp/activate/")
    found = re.search(r"\b([A-Z2-7]{32})\b", page.content())
    assert found, "the TOTP secret is shown for manual entry"
    screenshot(page, "totp-activate")
    page.fill("input[name=code]", totp(found.group(1)))
    page.click("main button[type=submit]")
    page.wait_for_url("**/console/mfa/recovery-codes/")

    page.goto("/console/accounts/")
    page.click("#second-factor-rule button")
    expect(page.locator(".message.success")).to_contain_text("A second factor is now required")
    screenshot(page, "accounts-mfa-required")

    other = browser.new_context(base_url=hermod).new_page()
    _sign_in(other, "oscar", NEW_PASSWORD)
    other.wait_for_url("**/console/mfa/")
    expect(other.locator(".message")).to_contain_text("requires a second factor")
    screenshot(other, "mfa-required-setup")
    other.goto("/console/commands/")
    other.wait_for_url("**/console/mfa/")
    other.context.close()


@pytest.fixture
def oidc(settings: Any, hermod: str) -> Iterator[Provider]:
    with configured_provider(settings) as provider:
        yield provider


def test_single_sign_on_maps_the_claim_to_a_role_or_refuses(
    page: Any, browser: Any, hermod: str, oidc: Provider, screenshot: Any
) -> None:
    oidc.claims = {"sub": "u-7", "preferred_username": "sam", "groups": ["hermod-operator"]}
    page.goto("/console/login/")
    screenshot(page, "login-sso")
    page.click("button:has-text('Sign in with Example IdP')")
    page.wait_for_url("**/console/")
    expect(page.locator(".who")).to_contain_text("sam · operator")

    # The refusal answers 403, which Chromium logs as a console error: its own context, so the
    # page fixture's check for script and CSP errors stays meaningful for the rest.
    refused = browser.new_context(base_url=hermod).new_page()
    oidc.claims = {"sub": "u-8", "preferred_username": "eve", "groups": ["staff"]}
    refused.goto("/console/login/")
    refused.click("button:has-text('Sign in with Example IdP')")
    expect(refused.locator("h1")).to_have_text("Single sign-on refused")
    expect(refused.locator(".error")).to_contain_text("'groups' holds no value")
    screenshot(refused, "sso-refused")
    refused.context.close()
    assert AuditEvent.objects.filter(action="console.login_sso_refused", target_id="eve").exists()
