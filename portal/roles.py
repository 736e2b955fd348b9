"""Console roles: an admin changes configuration, an operator views and issues commands.

Roles are Django auth groups created by the migration ``0002_console_roles``; a superuser is an
admin. A signed-in account with neither role sees nothing of the console (403).
"""

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

ADMIN_GROUP = "hermod-admin"
OPERATOR_GROUP = "hermod-operator"


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"


def role_of(user: AbstractBaseUser | AnonymousUser) -> Role | None:
    """The console role of an account (one query, remembered on the user object)."""
    if not user.is_authenticated or not user.is_active:
        return None
    if hasattr(user, "_hermod_role"):
        cached: Role | None = user._hermod_role
        return cached
    role: Role | None = None
    if getattr(user, "is_superuser", False):
        role = Role.ADMIN
    else:
        names = set(getattr(user, "groups").values_list("name", flat=True))  # noqa: B009
        if ADMIN_GROUP in names:
            role = Role.ADMIN
        elif OPERATOR_GROUP in names:
            role = Role.OPERATOR
    setattr(user, "_hermod_role", role)  # noqa: B010 - per-request memo on the user object
    return role


View = TypeVar("View", bound=Callable[..., HttpResponse])


def console_view(*, admin: bool = False) -> Callable[[View], View]:
    """Sign-in required (redirect to the login page); then a console role, or 403.

    With ``admin=True`` an operator gets 403 too. The role is left on ``request.console_role``
    for the templates (which hide what the role may not do; the check here is what counts).
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            role = role_of(request.user)
            if role is None or (admin and role is not Role.ADMIN):
                raise PermissionDenied
            request.console_role = role  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return login_required(wrapper)  # type: ignore[return-value]

    return decorate
