"""Who may see and do what in the console: sign-in, roles, CSRF and security headers."""

import ipaddress
import uuid
from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from hermod_core.models import AuditEvent, Client
from portal.forms.login import ThrottledAuthenticationForm
from portal.middleware import CONTENT_SECURITY_POLICY
from portal.models import LoginThrottle
from portal.services.login import (
    LOGIN_FREE_FAILURES,
    LOGIN_MAX_DELAY,
    login_failure_delay,
)
from tests.factories import PASSWORD

PID = uuid.uuid4()

# Every console URL: (name, kwargs, method).
CONSOLE_URLS = [
    ("portal:dashboard", {}, "get"),
    ("portal:client_list", {}, "get"),
    ("portal:client_create", {}, "post"),
    ("portal:clients_import", {}, "post"),
    ("portal:clients_export", {}, "get"),
    ("portal:client_generate", {}, "get"),
    ("portal:client_detail", {"client_id": "idm"}, "get"),
    ("portal:client_rotate", {"client_id": "idm"}, "post"),
    ("portal:client_key", {"client_id": "idm"}, "get"),
    ("portal:client_enabled", {"client_id": "idm"}, "post"),
    ("portal:client_delete", {"client_id": "idm"}, "post"),
    ("portal:client_callback", {"client_id": "idm"}, "post"),
    ("portal:client_test_callback", {"client_id": "idm"}, "post"),
    ("portal:groups", {}, "get"),
    ("portal:group", {"name": "smartid"}, "get"),
    ("portal:group_create", {}, "post"),
    ("portal:group_rename", {"name": "smartid"}, "post"),
    ("portal:group_delete", {"name": "smartid"}, "post"),
    ("portal:group_key_add", {"name": "smartid"}, "post"),
    ("portal:group_key_remove", {"name": "smartid", "key_id": 1}, "post"),
    ("portal:group_ca_save", {"name": "smartid"}, "post"),
    ("portal:group_ca_ra", {"name": "smartid"}, "post"),
    ("portal:group_ca_test", {"name": "smartid"}, "post"),
    ("portal:users", {}, "get"),
    ("portal:user", {"group": "smartid", "userid": "bob"}, "get"),
    ("portal:profile", {"profile_id": PID}, "get"),
    ("portal:profile", {"profile_id": PID}, "post"),
    ("portal:commands", {}, "get"),
    ("portal:command", {"command_id": 1}, "get"),
    ("portal:command_live", {"command_id": 1}, "get"),
    ("portal:command_cancel", {"command_id": 1}, "post"),
    ("portal:callbacks", {}, "get"),
    ("portal:callback_resend", {"delivery_id": 1}, "post"),
    ("portal:callback_resend_all", {}, "post"),
    ("portal:provision", {}, "get"),
    ("portal:provision", {}, "post"),
    ("portal:provision_session", {"command_id": 1}, "get"),
    ("portal:provision_status", {"command_id": 1}, "get"),
    ("portal:invitations", {}, "get"),
    ("portal:invitation", {"invitation_id": 1}, "get"),
    ("portal:invitation_revoke", {"invitation_id": 1}, "post"),
    ("portal:invitation_resend", {"invitation_id": 1}, "post"),
    ("portal:bulk", {}, "get"),
    ("portal:bulk_create", {}, "post"),
    ("portal:bulk_job", {"job_id": 1}, "get"),
    ("portal:bulk_progress", {"job_id": 1}, "get"),
    ("portal:bulk_result", {"job_id": 1}, "get"),
    ("portal:bulk_requeue", {"job_id": 1}, "post"),
    ("portal:audit", {}, "get"),
    ("portal:login_throttles", {}, "get"),
    ("portal:login_throttle_clear", {"throttle_id": 1}, "post"),
    ("portal:accounts", {}, "get"),
    ("portal:account_create", {}, "post"),
    ("portal:account_invite", {}, "post"),
    ("portal:console_mfa_rule", {}, "post"),
    ("portal:account_role", {"user_id": 1}, "post"),
    ("portal:account_enabled", {"user_id": 1}, "post"),
    ("portal:account_unlock", {"user_id": 1}, "post"),
    ("portal:account_invitation", {"invitation_id": 1}, "get"),
    ("portal:account_invitation_revoke", {"invitation_id": 1}, "post"),
]

ADMIN_ONLY = [
    ("portal:client_create", {}),
    ("portal:group_create", {}),
    ("portal:group_rename", {"name": "smartid"}),
    ("portal:group_delete", {"name": "smartid"}),
    ("portal:clients_import", {}),
    ("portal:client_rotate", {"client_id": "idm"}),
    ("portal:client_enabled", {"client_id": "idm"}),
    ("portal:client_delete", {"client_id": "idm"}),
    ("portal:client_callback", {"client_id": "idm"}),
    ("portal:client_test_callback", {"client_id": "idm"}),
    ("portal:group_key_add", {"name": "smartid"}),
    ("portal:group_key_remove", {"name": "smartid", "key_id": 1}),
    ("portal:group_ca_save", {"name": "smartid"}),
    ("portal:group_ca_ra", {"name": "smartid"}),
    ("portal:group_ca_test", {"name": "smartid"}),
    ("portal:login_throttle_clear", {"throttle_id": 1}),
    ("portal:account_create", {}),
    ("portal:account_invite", {}),
    ("portal:console_mfa_rule", {}),
    ("portal:account_role", {"user_id": 1}),
    ("portal:account_enabled", {"user_id": 1}),
    ("portal:account_unlock", {"user_id": 1}),
    ("portal:account_invitation_revoke", {"invitation_id": 1}),
]


@pytest.mark.parametrize(("name", "kwargs", "method"), CONSOLE_URLS)
def test_every_console_url_sends_a_stranger_to_the_login_page(
    db: None, name: str, kwargs: dict, method: str
) -> None:
    url = reverse(name, kwargs=kwargs)
    response = getattr(HttpClient(), method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


@pytest.mark.parametrize(("name", "kwargs", "method"), CONSOLE_URLS)
def test_an_account_without_a_console_role_gets_403_everywhere(
    norole_user, name: str, kwargs: dict, method: str
) -> None:
    http = HttpClient()
    http.force_login(norole_user)
    assert getattr(http, method)(reverse(name, kwargs=kwargs)).status_code == 403


@pytest.mark.parametrize(("name", "kwargs"), ADMIN_ONLY)
def test_an_operator_gets_403_on_admin_actions(operator, client_a, name: str, kwargs: dict) -> None:
    assert operator.post(reverse(name, kwargs=kwargs)).status_code == 403


def test_an_operator_may_not_export_client_settings(operator, client_a) -> None:
    assert operator.get(reverse("portal:clients_export")).status_code == 403


def test_an_operator_sees_no_admin_forms(operator, client_a) -> None:
    page = operator.get(reverse("portal:client_detail", args=["idm"])).content.decode()
    assert "Rotate key" not in page
    assert "Callback settings" not in page


def test_a_superuser_is_an_admin(django_user_model, client_a) -> None:
    boss = django_user_model.objects.create_superuser("boss", password=PASSWORD)
    http = HttpClient()
    http.force_login(boss)
    response = http.post(reverse("portal:client_enabled", args=["idm"]), {"enabled": "false"})
    assert response.status_code == 302
    assert Client.objects.get(client_id="idm").enabled is False


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("portal:client_create", {}),
        ("portal:client_rotate", {"client_id": "idm"}),
        ("portal:command_cancel", {"command_id": 1}),
        ("portal:provision", {}),
        ("portal:invitation_revoke", {"invitation_id": 1}),
        ("portal:group_create", {}),
        ("portal:client_delete", {"client_id": "idm"}),
        ("portal:callback_resend_all", {}),
        ("portal:logout", {}),
    ],
)
def test_posts_without_a_csrf_token_are_refused(admin_csrf, client_a, name, kwargs) -> None:
    assert admin_csrf.post(reverse(name, kwargs=kwargs)).status_code == 403


def test_htmx_posts_carry_the_csrf_token_in_a_header(admin_csrf, client_a) -> None:
    page = admin_csrf.get(reverse("portal:client_detail", args=["idm"]))
    token = page.cookies["csrftoken"].value
    assert 'hx-headers=\'{"X-CSRFToken": "' in page.content.decode()
    response = admin_csrf.post(
        reverse("portal:client_test_callback", args=["idm"]),
        HTTP_HX_REQUEST="true",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200
    assert "Test callback queued" in response.content.decode()


def test_console_and_enrollment_pages_have_a_strict_content_security_policy(admin) -> None:
    for url in (reverse("portal:dashboard"), reverse("portal:login"), "/enroll/" + "x" * 32):
        response = admin.get(url)
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_pages_carry_no_inline_script_or_style(admin, client_a) -> None:
    for name in ("portal:dashboard", "portal:provision", "portal:client_list", "portal:bulk"):
        page = admin.get(reverse(name)).content.decode()
        assert "<script>" not in page
        assert "<script src=" in page
        assert " style=" not in page
        assert "<style" not in page


def test_the_api_keeps_its_own_headers(db: None) -> None:
    response = HttpClient().get("/hermod/rest/command/poll/1")
    assert "Content-Security-Policy" not in response


# --- signing in -------------------------------------------------------------------------------


def _login(http: HttpClient, username: str, password: str, ip: str = "10.0.0.1"):
    return http.post(
        reverse("portal:login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_a_person_signs_in_and_the_login_is_audited(admin_user) -> None:
    http = HttpClient()
    response = _login(http, admin_user.username, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:dashboard")
    event = AuditEvent.objects.get(action="console.login")
    assert event.actor_user == admin_user
    assert event.ip == "10.0.0.1"


def test_a_wrong_password_is_refused_and_audited(admin_user) -> None:
    response = _login(HttpClient(), admin_user.username, "nope")
    assert response.status_code == 200
    assert "did not match" in response.content.decode() or "correct" in response.content.decode()
    assert AuditEvent.objects.filter(action="console.login_failed", ip="10.0.0.1").count() == 1


def _fail(username: str, times: int, ip: str = "10.0.0.1", *, wait_out: bool = False) -> None:
    """``times`` failed sign-ins; with ``wait_out`` each after the previous one's wait ended."""
    for _ in range(times):
        if wait_out:
            LoginThrottle.objects.update(blocked_until=None)
        _login(HttpClient(), username, "wrong", ip=ip)


def _wait_of(username: str, ip: str = "10.0.0.1") -> float:
    row = LoginThrottle.objects.get(username=username, ip=ip)
    return (row.blocked_until - row.last_failed_at).total_seconds() if row.blocked_until else 0


def test_repeated_failures_make_the_name_wait_even_for_the_right_password(admin_user) -> None:
    http = HttpClient()
    _fail(admin_user.username, LOGIN_FREE_FAILURES)
    response = _login(http, admin_user.username, PASSWORD)
    assert response.status_code == 200
    assert (
        "Too many failed sign-ins for this account from your address" in response.content.decode()
    )
    assert "Try again in 2 seconds" in response.content.decode()
    assert "_auth_user_id" not in http.session


def test_delays_grow_with_each_further_failure_up_to_the_cap(admin_user) -> None:
    _fail(admin_user.username, LOGIN_FREE_FAILURES - 1)
    assert _wait_of(admin_user.username) == 0
    waits = []
    for _ in range(12):
        _fail(admin_user.username, 1, wait_out=True)
        waits.append(_wait_of(admin_user.username))
    assert waits[:4] == [2, 4, 8, 16]
    assert waits == sorted(waits)
    assert waits[-1] == LOGIN_MAX_DELAY.total_seconds()
    assert [login_failure_delay(n) for n in (1, LOGIN_FREE_FAILURES, 1000)] == [
        timedelta(0),
        timedelta(seconds=2),
        LOGIN_MAX_DELAY,
    ]


def test_an_attempt_inside_its_wait_is_refused_unchecked_uncounted_and_audited(
    admin_user,
) -> None:
    _fail(admin_user.username, LOGIN_FREE_FAILURES)
    before = LoginThrottle.objects.get(username=admin_user.username).failures
    for password in ("wrong", PASSWORD):
        response = _login(HttpClient(), admin_user.username, password)
        assert "Too many failed sign-ins" in response.content.decode()
    assert LoginThrottle.objects.get(username=admin_user.username).failures == before
    refused = AuditEvent.objects.filter(action="console.login_throttled", ip="10.0.0.1")
    assert refused.count() == 2
    assert refused.first().target_id == admin_user.username
    assert AuditEvent.objects.filter(action="console.login_failed").count() == LOGIN_FREE_FAILURES


def test_failures_for_an_account_from_one_address_never_slow_it_from_another(
    admin_user, settings
) -> None:
    """Issue 10: behind a reverse proxy every sign-in came from the proxy's address, so anybody
    could lock a named account for everyone. Now the address is the client's (through trusted
    proxies only) and failures from X never slow the same account from Y."""
    settings.HERMOD_TRUSTED_PROXIES = (ipaddress.ip_network("10.9.0.1/32"),)
    proxy = {"REMOTE_ADDR": "10.9.0.1"}
    for _ in range(LOGIN_FREE_FAILURES + 3):
        HttpClient().post(
            reverse("portal:login"),
            {"username": admin_user.username, "password": "wrong"},
            HTTP_X_FORWARDED_FOR="203.0.113.66",
            **proxy,
        )
    from_y = HttpClient().post(
        reverse("portal:login"),
        {"username": admin_user.username, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.20",
        **proxy,
    )
    assert from_y.status_code == 302
    # A stranger connecting directly and claiming Y's address spends its own budget, not Y's.
    for _ in range(LOGIN_FREE_FAILURES + 3):
        _login(HttpClient(), admin_user.username, "wrong", ip="203.0.113.67")
    assert not LoginThrottle.objects.filter(ip="198.51.100.20").exists()


def test_rotating_ipv6_addresses_within_one_64_does_not_escape_the_wait(admin_user) -> None:
    for i in range(LOGIN_FREE_FAILURES):
        _login(HttpClient(), admin_user.username, "wrong", ip=f"2001:db8:5::{i + 1}")
    response = _login(HttpClient(), admin_user.username, PASSWORD, ip="2001:db8:5::99")
    assert "Too many failed sign-ins for this account" in response.content.decode()
    assert AuditEvent.objects.filter(ip="2001:db8:5::3").exists()  # audit: the full address
    assert (
        _login(HttpClient(), admin_user.username, PASSWORD, ip="2001:db8:6::1").status_code == 302
    )


def test_a_wait_ends_after_its_time(admin_user) -> None:
    _fail(admin_user.username, LOGIN_FREE_FAILURES + 2)
    LoginThrottle.objects.update(blocked_until="2000-01-01T00:00:00Z")
    assert _login(HttpClient(), admin_user.username, PASSWORD).status_code == 302


def test_a_success_forgets_earlier_failures(admin_user) -> None:
    _fail(admin_user.username, LOGIN_FREE_FAILURES - 1)
    assert _login(HttpClient(), admin_user.username, PASSWORD).status_code == 302
    _fail(admin_user.username, LOGIN_FREE_FAILURES - 1)
    assert _login(HttpClient(), admin_user.username, PASSWORD).status_code == 302


def test_unknown_names_are_throttled_like_real_ones(db: None) -> None:
    _fail("ghost", LOGIN_FREE_FAILURES)
    response = _login(HttpClient(), "ghost", "wrong")
    assert "Too many failed sign-ins for this account" in response.content.decode()


def test_the_sign_in_form_only_decides_and_writes_nothing(admin_user, rf) -> None:
    """The form's clean() reads the throttle; counting and auditing are the view's."""
    _fail(admin_user.username, LOGIN_FREE_FAILURES)
    throttles, events = LoginThrottle.objects.count(), AuditEvent.objects.count()
    for password in ("wrong", PASSWORD):
        request = rf.post("/console/login/", REMOTE_ADDR="10.0.0.1")
        form = ThrottledAuthenticationForm(
            request, data={"username": admin_user.username, "password": password}
        )
        assert not form.is_valid()
        assert form.refusal is not None
        assert form.refusal.scope == "account"
    fresh = ThrottledAuthenticationForm(
        rf.post("/console/login/", REMOTE_ADDR="192.0.2.99"),
        data={"username": admin_user.username, "password": "wrong"},
    )
    assert not fresh.is_valid()
    assert fresh.failed
    assert fresh.refusal is None
    assert (LoginThrottle.objects.count(), AuditEvent.objects.count()) == (throttles, events)


def test_an_address_spraying_many_names_is_refused_for_every_name(admin_user, monkeypatch) -> None:
    monkeypatch.setattr("portal.services.login.LOGIN_MAX_FAILURES_PER_IP", 4)
    for name in ("ann", "bob", "cy", "dee"):
        _login(HttpClient(), name, "wrong", ip="203.0.113.5")
    refused = _login(HttpClient(), admin_user.username, PASSWORD, ip="203.0.113.5")
    assert "Too many failed sign-ins from your address" in refused.content.decode()
    assert _login(HttpClient(), admin_user.username, PASSWORD, ip="10.0.0.3").status_code == 302


def test_an_admin_sees_the_throttled_account_and_clears_it_audited(
    admin, admin_user, operator, operator_user
) -> None:
    _fail(operator_user.username, LOGIN_FREE_FAILURES, ip="203.0.113.44")
    page = admin.get(reverse("portal:login_throttles")).content.decode()
    assert operator_user.username in page
    assert "203.0.113.44" in page
    assert operator.get(reverse("portal:login_throttles")).status_code == 403
    row = LoginThrottle.objects.get(username=operator_user.username)
    response = admin.post(reverse("portal:login_throttle_clear", args=[row.pk]))
    assert response.status_code == 302
    assert not LoginThrottle.objects.filter(pk=row.pk).exists()
    event = AuditEvent.objects.get(action="console.login_unthrottled")
    assert (event.actor_user, event.target_id) == (admin_user, operator_user.username)
    assert event.details["ip"] == "203.0.113.44"
    again = _login(HttpClient(), operator_user.username, PASSWORD, ip="203.0.113.44")
    assert again.status_code == 302


def test_signing_out_is_audited_and_leads_to_the_login_page(admin, admin_user) -> None:
    response = admin.post(reverse("portal:logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:login")
    assert AuditEvent.objects.get(action="console.logout").actor_user == admin_user
    assert admin.get(reverse("portal:dashboard")).status_code == 302
