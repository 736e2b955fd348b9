"""Manage console accounts: create, set a role, disable, enable, unlock, invite, list."""

import getpass
import sys
from argparse import ArgumentParser
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from hermod_core.services.audit import Actor
from portal.account_selectors import account_get_by_name, account_list
from portal.services.accounts import (
    INVITATION_DEFAULT_HOURS,
    AccountError,
    account_create,
    account_enabled_set,
    account_invitation_create,
    account_role_set,
    account_second_factors_remove,
    account_unlock,
)

ACTOR = Actor.system("manage.py")
ROLES = ["admin", "operator"]


class Command(BaseCommand):
    help = (
        "Console accounts: create (with a password typed twice, or read from stdin), set a role "
        "(admin or operator), disable, enable, unlock (lift sign-in throttles), reset-mfa (remove "
        "lost second factors), invite (print a one-time link), list. Every change is in the "
        "audit log as done by manage.py."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create an account with a role")
        create.add_argument("username")
        create.add_argument("--role", choices=ROLES, required=True)
        create.add_argument("--email", default="")
        create.add_argument(
            "--password-stdin", action="store_true", help="read the password from stdin"
        )
        role = sub.add_parser("role", help="give an account a role (its only one)")
        role.add_argument("username")
        role.add_argument("role", choices=ROLES)
        for name, text in [
            ("disable", "refuse the account's sign-ins and end its sessions"),
            ("enable", "let a disabled account sign in again"),
            ("unlock", "lift the sign-in throttles on the account's name"),
            ("reset-mfa", "remove every second factor of an account that lost them"),
        ]:
            sub.add_parser(name, help=text).add_argument("username")
        invite = sub.add_parser("invite", help="print a one-time link that creates an account")
        invite.add_argument("--role", choices=ROLES, required=True)
        invite.add_argument("--email", default="")
        invite.add_argument("--hours", type=int, default=INVITATION_DEFAULT_HOURS)
        sub.add_parser("list", help="list accounts: name, role, state, second factors")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "list":
                self._list()
            elif action == "create":
                user = account_create(
                    actor=ACTOR,
                    username=options["username"],
                    role=options["role"],
                    email=options["email"],
                    password=self._password(options["password_stdin"]),
                )
                self.stdout.write(f"Created {user.get_username()} ({options['role']}).")
            elif action == "invite":
                issued = account_invitation_create(
                    actor=ACTOR,
                    role=options["role"],
                    email=options["email"],
                    hours=options["hours"],
                )
                public = urlsplit(settings.HERMOD_PUBLIC_URL)
                path = reverse("portal:account_join", args=[issued.token])
                link = f"{public.scheme}://{public.netloc}{path}"
                self.stdout.write(f"One-time link ({options['hours']} h, shown once): {link}")
            else:
                self._change(action, self._user(options["username"]), options)
        except AccountError as exc:
            raise CommandError(str(exc)) from None

    def _change(self, action: str, user: AbstractUser, options: dict[str, Any]) -> None:
        name = user.get_username()
        if action == "role":
            changed = account_role_set(actor=ACTOR, user=user, role=options["role"])
            self.stdout.write(f"{name} is {'now' if changed else 'already'} {options['role']}.")
        elif action in {"disable", "enable"}:
            enabled = action == "enable"
            changed = account_enabled_set(actor=ACTOR, user=user, enabled=enabled)
            self.stdout.write(f"{name} is {'now' if changed else 'already'} {action}d.")
        elif action == "unlock":
            count = account_unlock(actor=ACTOR, user=user)
            self.stdout.write(f"{name}: {count} sign-in throttle(s) lifted.")
        else:
            count = account_second_factors_remove(actor=ACTOR, user=user)
            self.stdout.write(f"{name}: {count} second factor(s) removed.")

    def _user(self, username: str) -> AbstractUser:
        user = account_get_by_name(username)
        if user is None:
            raise CommandError(f"No account named {username!r}.")
        return user

    def _password(self, from_stdin: bool) -> str:
        if from_stdin:
            return sys.stdin.readline().rstrip("\n")
        first = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != first:
            raise CommandError("The two passwords differ.")
        return first

    def _list(self) -> None:
        for row in account_list():
            state = "enabled" if row.user.is_active else "disabled"
            role = row.role.value if row.role else "-"
            mfa = ",".join(row.mfa) or "-"
            throttled = f"throttled from {row.throttled}" if row.throttled else ""
            line = f"{row.user.get_username()}\t{role}\t{state}\t{mfa}\t{throttled}"
            self.stdout.write(line.rstrip())
