"""Second factor at console sign-in (django-allauth's MFA behind the console's throttled password
step): TOTP with codes computed here (RFC 6238), recovery codes, the admin's rule that makes a
second factor mandatory, and an audit row for every sign-in attempt."""

import io

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from hermod_core.models import AuditEvent
from portal.models import LoginThrottle
from portal.services.login import (
    LOGIN_FREE_FAILURES,
)
from tests.factories import PASSWORD
from tests.totp import SECRET, totp

IP = "10.0.0.7"


def test_the_totp_helper_matches_rfc_6238_vectors() -> None:
    # RFC 6238 appendix B, SHA-1, 8 digits.
    assert totp(SECRET, 59, digits=8) == "94287082"
    assert totp(SECRET, 1111111109, digits=8) == "07081804"
    assert totp(SECRET, 20000000000, digits=8) == "65353130"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()  # allauth remembers used codes and rate limits in the cache


def _password_step(username: str, password: str = PASSWORD) -> tuple[HttpClient, str]:
    http = HttpClient(REMOTE_ADDR=IP)
    response = http.post(reverse("portal:login"), {"username": username, "password": password})
    return http, response.get("Location", "")


def _totp_setup_page(http: HttpClient) -> str:
    """Open the TOTP set-up page; as any change of factors, it first asks for the password again."""
    url = reverse("mfa_activate_totp")
    response = http.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    again = http.post(response["Location"], {"password": PASSWORD})
    assert again.status_code == 302
    assert again["Location"] == url
    page = http.get(url)
    assert page.status_code == 200
    return page.content.decode()


def _signed_in(http: HttpClient) -> bool:
    return http.get(reverse("portal:dashboard")).status_code == 200


def test_an_account_adds_totp_in_the_console_with_a_code_from_its_app(
    admin_user, django_capture_on_commit_callbacks
) -> None:
    http, _ = _password_step(admin_user.username)
    page = _totp_setup_page(http)
    secret = http.session["mfa.totp.secret"]
    assert secret in page  # shown for manual entry beside the QR code
    wrong = http.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert wrong.status_code == 200
    assert not Authenticator.objects.filter(user=admin_user).exists()
    with django_capture_on_commit_callbacks(execute=True):  # allauth signals after commit
        response = http.post(reverse("mfa_activate_totp"), {"code": totp(secret)})
    assert response.status_code == 302
    stored = Authenticator.objects.get(user=admin_user, type=Authenticator.Type.TOTP)
    assert secret not in str(stored.data)  # sealed, not in the clear
    assert AuditEvent.objects.filter(
        action="console.mfa_added", target_id=admin_user.username, details={"kind": "totp"}
    ).exists()


def test_with_totp_the_password_alone_does_not_sign_in(admin_user) -> None:
    TOTP.activate(admin_user, SECRET)
    http, location = _password_step(admin_user.username)
    assert location == reverse("mfa_authenticate")
    assert not _signed_in(http)
    assert not AuditEvent.objects.filter(action="console.login").exists()


def test_a_wrong_code_is_refused_and_audited_the_right_one_signs_in(admin_user) -> None:
    TOTP.activate(admin_user, SECRET)
    http, _ = _password_step(admin_user.username)
    wrong = http.post(reverse("mfa_authenticate"), {"code": "123456"})
    assert wrong.status_code == 200
    assert not _signed_in(http)
    failed = AuditEvent.objects.get(action="console.login_mfa_failed")
    assert (failed.target_id, failed.ip, failed.details) == (
        admin_user.username,
        IP,
        {"method": "code"},
    )
    http.post(reverse("mfa_authenticate"), {"code": totp(SECRET)})
    assert _signed_in(http)
    login = AuditEvent.objects.get(action="console.login", target_id=admin_user.username, ip=IP)
    assert login.details == {"via": ["password", "totp"]}


def test_a_totp_code_works_once(admin_user) -> None:
    TOTP.activate(admin_user, SECRET)
    code = totp(SECRET)
    first, _ = _password_step(admin_user.username)
    first.post(reverse("mfa_authenticate"), {"code": code})
    assert _signed_in(first)
    replay, _ = _password_step(admin_user.username)
    replay.post(reverse("mfa_authenticate"), {"code": code})
    assert not _signed_in(replay)


def test_a_recovery_code_signs_in_once(admin_user) -> None:
    TOTP.activate(admin_user, SECRET)
    codes = RecoveryCodes.activate(admin_user).get_unused_codes()
    stored = Authenticator.objects.get(user=admin_user, type=Authenticator.Type.RECOVERY_CODES)
    assert not any(code in str(stored.data) for code in codes)
    http, _ = _password_step(admin_user.username)
    http.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert _signed_in(http)
    again, _ = _password_step(admin_user.username)
    again.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert not _signed_in(again)


def test_the_throttle_still_guards_the_password_step_of_an_mfa_account(admin_user) -> None:
    TOTP.activate(admin_user, SECRET)
    for _ in range(LOGIN_FREE_FAILURES):
        _password_step(admin_user.username, "wrong")
    _, location = _password_step(admin_user.username)
    assert location == ""  # refused before the password is checked: no second-factor page
    assert AuditEvent.objects.filter(action="console.login_throttled").count() == 1


def test_every_kind_of_sign_in_attempt_writes_an_audit_row(admin_user) -> None:
    _password_step("nobody-here", "x")  # unknown account
    _password_step(admin_user.username, "wrong")  # wrong password
    for _ in range(LOGIN_FREE_FAILURES - 1):
        _password_step(admin_user.username, "wrong")
    _password_step(admin_user.username)  # throttled
    LoginThrottle.objects.all().delete()  # as an admin's unlock would
    TOTP.activate(admin_user, SECRET)
    http, _ = _password_step(admin_user.username)
    http.post(reverse("mfa_authenticate"), {"code": "000000"})  # second factor failed
    http.post(reverse("mfa_authenticate"), {"code": totp(SECRET)})  # success
    actions = list(
        AuditEvent.objects.filter(action__startswith="console.login")
        .order_by("id")
        .values_list("action", "target_id")
    )
    assert actions[0] == ("console.login_failed", "nobody-here")
    assert actions[1] == ("console.login_failed", admin_user.username)
    assert ("console.login_throttled", admin_user.username) in actions
    assert actions[-2:] == [
        ("console.login_mfa_failed", admin_user.username),
        ("console.login", admin_user.username),
    ]


# --- the admin's rule: a second factor for everyone ---------------------------------------------


def test_an_operator_cannot_change_the_second_factor_rule(operator) -> None:
    response = operator.post(reverse("portal:console_mfa_rule"), {"require_mfa": "1"})
    assert response.status_code == 403


def test_an_admin_without_a_second_factor_cannot_require_one(admin, admin_user) -> None:
    admin.post(reverse("portal:console_mfa_rule"), {"require_mfa": "1"})
    page = admin.get(reverse("portal:accounts")).content.decode()
    assert "Add a second factor to your own account first" in page
    assert not AuditEvent.objects.filter(action="console.mfa_required").exists()


def test_when_required_an_account_without_a_second_factor_must_set_one_up_first(
    admin, admin_user, operator_user
) -> None:
    TOTP.activate(admin_user, SECRET)
    admin.post(reverse("portal:console_mfa_rule"), {"require_mfa": "1"})
    assert AuditEvent.objects.filter(action="console.mfa_required").exists()
    http, _ = _password_step(operator_user.username)
    for url in (reverse("portal:dashboard"), reverse("portal:commands"), reverse("portal:audit")):
        response = http.get(url)
        assert response.status_code == 302
        assert response["Location"] == reverse("mfa_index")
    assert http.get(reverse("mfa_index")).status_code == 200
    _totp_setup_page(http)
    secret = http.session["mfa.totp.secret"]
    http.post(reverse("mfa_activate_totp"), {"code": totp(secret)})
    assert _signed_in(http)


def test_when_required_the_api_and_the_enrollment_portal_are_untouched(
    admin, admin_user, client_a
) -> None:
    TOTP.activate(admin_user, SECRET)
    admin.post(reverse("portal:console_mfa_rule"), {"require_mfa": "1"})
    api = HttpClient().get("/hermod/rest/command/poll/nosuch", **client_a.headers)
    assert api.status_code == 404
    assert api["Content-Type"] == "application/json"
    assert HttpClient().get("/enroll/" + "x" * 32).status_code == 404


def test_when_optional_again_nobody_is_sent_to_set_up(admin, admin_user, operator_user) -> None:
    TOTP.activate(admin_user, SECRET)
    admin.post(reverse("portal:console_mfa_rule"), {"require_mfa": "1"})
    admin.post(reverse("portal:console_mfa_rule"), {"require_mfa": "0"})
    http, _ = _password_step(operator_user.username)
    assert _signed_in(http)
    assert AuditEvent.objects.filter(action="console.mfa_optional").exists()


def test_the_command_removes_the_factors_of_an_account_that_lost_them(admin_user) -> None:
    TOTP.activate(admin_user, SECRET)
    RecoveryCodes.activate(admin_user)
    out = io.StringIO()
    call_command("hermod_account", "reset-mfa", admin_user.username, stdout=out)
    assert "2 second factor(s) removed" in out.getvalue()
    assert not Authenticator.objects.filter(user=admin_user).exists()
    event = AuditEvent.objects.get(action="console.mfa_removed_by_admin")
    assert event.details == {"kinds": ["recovery_codes", "totp"]}
    http, _ = _password_step(admin_user.username)
    assert _signed_in(http)


def test_requiring_a_second_factor_ends_the_sessions_of_accounts_without_one(
    admin, admin_user, operator, operator_user
) -> None:
    TOTP.activate(admin_user, SECRET)
    assert operator.get(reverse("portal:dashboard")).status_code == 200
    admin.post(reverse("portal:console_mfa_rule"), {"require_mfa": "1"})
    assert operator.get(reverse("portal:dashboard"))["Location"].startswith(reverse("portal:login"))
    assert admin.get(reverse("portal:dashboard")).status_code == 200  # it has a factor
    event = AuditEvent.objects.get(action="console.mfa_required")
    assert event.details == {"sessions_ended": 1}
    http, _ = _password_step(operator_user.username)
    assert http.get(reverse("portal:dashboard"))["Location"] == reverse("mfa_index")


def test_without_the_rule_a_console_page_costs_no_query_for_it(admin) -> None:
    admin.get(reverse("portal:audit"))
    with CaptureQueriesContext(connection) as captured:
        admin.get(reverse("portal:audit"))
    tables = " ".join(query["sql"] for query in captured.captured_queries)
    assert "hermod_console_security" not in tables
    assert "mfa_authenticator" not in tables
