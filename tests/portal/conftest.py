"""Console personas: an admin, an operator and an account without a console role."""

from typing import Any

import pytest
from django.contrib.auth.models import Group as AuthGroup
from django.contrib.auth.models import User
from django.test import Client as HttpClient

from portal.roles import ADMIN_GROUP, OPERATOR_GROUP

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # Password hashing is deliberately slow; these tests sign in hundreds of times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _user(username: str, group: str | None) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD)
    if group:
        user.groups.add(AuthGroup.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def admin_user(db: None) -> User:
    return _user("alice-admin", ADMIN_GROUP)


@pytest.fixture
def operator_user(db: None) -> User:
    return _user("oscar-operator", OPERATOR_GROUP)


@pytest.fixture
def norole_user(db: None) -> User:
    return _user("nora-norole", None)


def _signed_in(user: User, **kwargs: Any) -> HttpClient:
    http = HttpClient(**kwargs)
    http.force_login(user)
    return http


@pytest.fixture
def admin(admin_user: User) -> HttpClient:
    return _signed_in(admin_user)


@pytest.fixture
def operator(operator_user: User) -> HttpClient:
    return _signed_in(operator_user)


@pytest.fixture
def admin_csrf(admin_user: User) -> HttpClient:
    """The admin with CSRF checks on, as a browser is."""
    return _signed_in(admin_user, enforce_csrf_checks=True)
