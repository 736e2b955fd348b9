"""Console personas (an admin, an operator and an account without a console role), an
invitation of client A, and the tasks a test hands to the broker."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client as HttpClient

from hermod_core.services.audit import Actor
from portal.roles import ADMIN_GROUP, OPERATOR_GROUP
from portal.services.invitations import IssuedInvitation, invitation_create
from tests.factories import Persona, console_user, provision_spec, signed_in


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # Password hashing is deliberately slow; these tests sign in hundreds of times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_user(db: None) -> User:
    return console_user("alice-admin", ADMIN_GROUP)


@pytest.fixture
def operator_user(db: None) -> User:
    return console_user("oscar-operator", OPERATOR_GROUP)


@pytest.fixture
def norole_user(db: None) -> User:
    return console_user("nora-norole", None)


@pytest.fixture
def admin(admin_user: User) -> HttpClient:
    return signed_in(admin_user)


@pytest.fixture
def operator(operator_user: User) -> HttpClient:
    return signed_in(operator_user)


@pytest.fixture
def admin_csrf(admin_user: User) -> HttpClient:
    """The admin with CSRF checks on, as a browser is."""
    return signed_in(admin_user, enforce_csrf_checks=True)


@pytest.fixture
def invitation(client_a: Persona) -> IssuedInvitation:
    return invitation_create(
        actor=Actor(name="alice-admin"),
        client=client_a.client,
        spec=provision_spec(congrats="Welcome to Acme, Dave!"),
    )


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Tasks handed to the broker (after commit)."""
    calls: list[tuple[str, Any]] = []
    monkeypatch.setattr(
        "hermod_core.services.dispatch._send",
        lambda name, args, countdown: calls.append((name, args)),
    )
    return calls
