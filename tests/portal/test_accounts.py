"""Console accounts: admins create, give roles, disable, enable, unlock and invite; the
management command does the same; every change and every sign-in attempt is audited."""

import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from hermod_core.models import AuditEvent
from portal.models import AccountInvitation, LoginThrottle
from portal.roles import Role, role_of
from portal.services.login import (
    LOGIN_FREE_FAILURES,
)
from tests.factories import PASSWORD

NEW_PASSWORD = "a long new passphrase 42"


def _role(user: User) -> Role | None:
    return role_of(User.objects.get(pk=user.pk))


def _login(username: str, password: str, ip: str = "10.0.0.9") -> HttpClient:
    http = HttpClient()
    http.post(reverse("portal:login"), {"username": username, "password": password}, REMOTE_ADDR=ip)
    return http


def _join_link(admin: HttpClient, **fields: object) -> str:
    data = {"role": "operator", "email": "", "hours": 72, **fields}
    response = admin.post(reverse("portal:account_invite"), data)
    assert response.status_code == 302
    page = admin.get(response["Location"]).content.decode()
    match = re.search(r"https?://[^\s<]+/console/join/([\w-]+)", page)
    assert match, page
    return f"/console/join/{match.group(1)}"


# --- the Accounts page --------------------------------------------------------------------------


def test_an_admin_sees_every_account_with_role_state_and_second_factor(
    admin, admin_user, operator_user, norole_user
) -> None:
    page = admin.get(reverse("portal:accounts")).content.decode()
    for user in (admin_user, operator_user, norole_user):
        assert f'data-account="{user.username}"' in page
    assert "none (no access)" in page


def test_an_operator_cannot_open_the_accounts_page(operator) -> None:
    assert operator.get(reverse("portal:accounts")).status_code == 403


def test_an_admin_creates_an_operator_who_can_sign_in_audited(admin) -> None:
    response = admin.post(
        reverse("portal:account_create"),
        {
            "username": "olga",
            "email": "olga@example.org",
            "role": "operator",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    olga = User.objects.get(username="olga")
    assert _role(olga) is Role.OPERATOR
    assert olga.password != NEW_PASSWORD  # hashed
    event = AuditEvent.objects.get(action="console.account_created")
    assert (event.actor, event.target_id, event.details) == (
        "alice-admin",
        "olga",
        {"role": "operator"},
    )
    assert _login("olga", NEW_PASSWORD).get(reverse("portal:dashboard")).status_code == 200


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"username": "oscar-OPERATOR"}, "already exists"),
        ({"username": "bad name!"}, "User name"),
        ({"password1": "short", "password2": "short"}, "Password"),
        ({"password2": "something else entirely"}, "The two passwords differ"),
        ({"role": "root"}, "Select a valid choice"),
    ],
)
def test_a_bad_new_account_is_refused_with_the_reason_and_nothing_stored(
    admin, operator_user, fields, problem
) -> None:
    data = {
        "username": "newbie",
        "email": "",
        "role": "operator",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        **fields,
    }
    before = User.objects.count()
    response = admin.post(reverse("portal:account_create"), data)
    assert response.status_code == 400
    assert problem in response.content.decode()
    assert User.objects.count() == before
    assert not AuditEvent.objects.filter(action="console.account_created").exists()


def test_an_admin_makes_an_operator_admin_and_back_audited(
    admin, admin_user, operator_user
) -> None:
    url = reverse("portal:account_role", args=[operator_user.pk])
    assert admin.post(url, {"role": "admin"}).status_code == 302
    assert _role(operator_user) is Role.ADMIN
    admin.post(url, {"role": "operator"})
    assert _role(operator_user) is Role.OPERATOR
    changes = AuditEvent.objects.filter(action="console.account_role").order_by("id")
    assert [e.details for e in changes] == [
        {"from": "operator", "to": "admin"},
        {"from": "admin", "to": "operator"},
    ]


def test_the_last_admin_cannot_be_demoted_or_disabled(admin, admin_user, operator_user) -> None:
    admin.post(reverse("portal:account_role", args=[admin_user.pk]), {"role": "operator"})
    assert _role(admin_user) is Role.ADMIN
    page = admin.get(reverse("portal:accounts")).content.decode()
    assert "only enabled admin" in page
    other = HttpClient()
    other.force_login(User.objects.create_superuser("root", password=PASSWORD))
    other.post(reverse("portal:account_enabled", args=[admin_user.pk]), {"enabled": "0"})
    assert User.objects.get(pk=admin_user.pk).is_active is False  # root is still an admin


def test_nobody_disables_their_own_account(admin, admin_user) -> None:
    User.objects.create_superuser("root", password=PASSWORD)
    admin.post(reverse("portal:account_enabled", args=[admin_user.pk]), {"enabled": "0"})
    assert User.objects.get(pk=admin_user.pk).is_active is True
    assert (
        "cannot disable your own account" in admin.get(reverse("portal:accounts")).content.decode()
    )


def test_a_disabled_account_loses_its_session_and_cannot_sign_in_audited(
    admin, operator, operator_user
) -> None:
    assert operator.get(reverse("portal:dashboard")).status_code == 200
    admin.post(reverse("portal:account_enabled", args=[operator_user.pk]), {"enabled": "0"})
    assert operator.get(reverse("portal:dashboard")).status_code == 302  # back to the login page
    http = _login(operator_user.username, PASSWORD)
    assert http.get(reverse("portal:dashboard")).status_code == 302
    assert AuditEvent.objects.filter(
        action="console.account_disabled", target_id=operator_user.username
    ).exists()
    assert AuditEvent.objects.filter(
        action="console.login_failed", target_id=operator_user.username
    ).exists()
    admin.post(reverse("portal:account_enabled", args=[operator_user.pk]), {"enabled": "1"})
    assert _login(operator_user.username, PASSWORD).get("/console/").status_code == 200


def test_an_admin_unlocks_a_throttled_account_from_every_address(admin, operator_user) -> None:
    for ip in ("203.0.113.1", "203.0.113.2"):
        for _ in range(LOGIN_FREE_FAILURES + 1):
            _login(operator_user.username, "wrong", ip=ip)
    page = admin.get(reverse("portal:accounts")).content.decode()
    assert "throttled from 2 addresses" in page
    admin.post(reverse("portal:account_unlock", args=[operator_user.pk]))
    assert not LoginThrottle.objects.filter(username=operator_user.username).exists()
    event = AuditEvent.objects.get(action="console.account_unlocked")
    assert event.details == {"addresses": ["203.0.113.1", "203.0.113.2"]}
    assert (
        _login(operator_user.username, PASSWORD, ip="203.0.113.1").get("/console/").status_code
        == 200
    )


# --- invitations --------------------------------------------------------------------------------


def test_an_invitation_link_creates_an_account_with_the_chosen_role_once(admin) -> None:
    link = _join_link(admin, role="admin", email="new@example.org")
    token = link.rsplit("/", 1)[1]
    invitation = AccountInvitation.objects.get()
    assert token not in invitation.token_hash  # only a keyed hash is stored
    assert len(token) >= 43

    stranger = HttpClient()
    assert stranger.get(link).status_code == 200
    response = stranger.post(
        link, {"username": "nadia", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    nadia = User.objects.get(username="nadia")
    assert (_role(nadia), nadia.email) == (Role.ADMIN, "new@example.org")
    joined = AuditEvent.objects.get(action="console.account_joined")
    assert (joined.actor, joined.details["role"]) == ("nadia", "admin")

    again = HttpClient().post(
        link, {"username": "mallory", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert again.status_code == 404
    assert not User.objects.filter(username="mallory").exists()


def test_the_link_is_shown_once(admin) -> None:
    response = admin.post(reverse("portal:account_invite"), {"role": "operator", "hours": 1})
    first = admin.get(response["Location"]).content.decode()
    second = admin.get(response["Location"]).content.decode()
    assert "/console/join/" in first
    assert "/console/join/" not in second


def test_an_expired_or_revoked_invitation_opens_nothing(admin) -> None:
    expired = _join_link(admin)
    AccountInvitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert HttpClient().get(expired).status_code == 404

    revoked = _join_link(admin)
    invitation = AccountInvitation.objects.order_by("-id").first()
    assert invitation is not None
    admin.post(reverse("portal:account_invitation_revoke", args=[invitation.pk]))
    assert HttpClient().get(revoked).status_code == 404
    assert AuditEvent.objects.filter(action="console.account_invitation_revoked").exists()


def test_a_forged_token_opens_nothing(db: None) -> None:
    assert HttpClient().get("/console/join/" + "A" * 43).status_code == 404


def test_a_bad_join_keeps_the_invitation_usable(admin) -> None:
    link = _join_link(admin)
    response = HttpClient().post(
        link, {"username": "nadia", "password1": "short", "password2": "short"}
    )
    assert response.status_code == 400
    assert "Password" in response.content.decode()
    assert AccountInvitation.objects.get().used_at is None


@pytest.mark.parametrize("hours", [0, 24 * 30 + 1])
def test_an_invitation_lifetime_out_of_range_is_refused(admin, hours) -> None:
    response = admin.post(reverse("portal:account_invite"), {"role": "operator", "hours": hours})
    assert response.status_code == 400
    assert not AccountInvitation.objects.exists()


# --- management command ------------------------------------------------------------------------


def _manage(*args: str, stdin: str = "") -> str:
    out = io.StringIO()
    import sys

    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command("hermod_account", *args, stdout=out)
    finally:
        sys.stdin = saved
    return out.getvalue()


def test_the_command_creates_sets_roles_disables_enables_unlocks_and_lists(db: None) -> None:
    _manage("create", "root", "--role", "admin", "--password-stdin", stdin=NEW_PASSWORD + "\n")
    _manage("create", "olga", "--role", "operator", "--password-stdin", stdin=NEW_PASSWORD + "\n")
    olga = User.objects.get(username="olga")
    assert _role(olga) is Role.OPERATOR
    assert "now admin" in _manage("role", "olga", "admin")
    assert _role(olga) is Role.ADMIN
    _manage("disable", "olga")
    assert User.objects.get(username="olga").is_active is False
    _manage("enable", "olga")
    assert User.objects.get(username="olga").is_active is True
    _login("olga", "wrong")
    assert "1 sign-in throttle(s) lifted" in _manage("unlock", "olga")
    listing = _manage("list")
    assert "olga\tadmin\tenabled" in listing
    assert "root\tadmin\tenabled" in listing
    actions = set(AuditEvent.objects.filter(actor="manage.py").values_list("action", flat=True))
    assert {
        "console.account_created",
        "console.account_role",
        "console.account_disabled",
        "console.account_enabled",
        "console.account_unlocked",
    } <= actions


def test_the_command_refuses_unknown_accounts_and_the_last_admin(db: None) -> None:
    with pytest.raises(CommandError, match="No account named"):
        _manage("disable", "ghost")
    _manage("create", "root", "--role", "admin", "--password-stdin", stdin=NEW_PASSWORD + "\n")
    with pytest.raises(CommandError, match="only enabled admin"):
        _manage("role", "root", "operator")


def test_the_command_prints_a_working_invitation_link(db: None) -> None:
    out = _manage("invite", "--role", "operator", "--hours", "2")
    match = re.search(r"(/console/join/[\w-]+)", out)
    assert match
    assert HttpClient().get(match.group(1)).status_code == 200
