"""Manage API clients: create, rotate, enable, disable, list."""

from argparse import ArgumentParser, ArgumentTypeError
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hermod_core.models import Client
from hermod_core.selectors.clients import client_get_by_client_id, client_list
from hermod_core.services.audit import Actor
from hermod_core.services.clients import (
    ClientError,
    IssuedKey,
    client_create,
    client_rotate_key,
    client_set_enabled,
    client_settings_update,
)

CLI = Actor.system("cli")

# ``set`` options -> client settings (``services.clients.CLIENT_SETTINGS``).
_SET_OPTIONS = {
    "callback_url": "callback_url",
    "callback_basic_auth": "callback_basic_auth",
    "callback_signing_secret": "callback_signing_secret",
    "callback_attempts": "attempts",
    "callback_retry_delay": "retry_delay",
    "content_provider_url": "content_provider_url",
    "content_provider_basic_auth": "content_provider_basic_auth",
}


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str) -> timedelta:
    """``3600``, ``90m``, ``24h`` or ``7d``."""
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "s")
    if not number.isdigit():
        raise ArgumentTypeError(f"not a duration: {text!r} (write seconds, or 90m, 24h, 7d)")
    return timedelta(seconds=int(number) * _UNITS[unit])


def _retry_and_content_options(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--attempts", type=int, help="callback attempts for this client (default: the server's)"
    )
    parser.add_argument(
        "--retry-delay", type=int, help="seconds between callback attempts (default: the server's)"
    )
    parser.add_argument(
        "--content-provider-url", help="base URL of its content provider (POST <url>/getcontent)"
    )
    parser.add_argument("--content-provider-basic-auth", help="user:password for the provider")


class Command(BaseCommand):
    help = (
        "Create, change (set), rotate, enable, disable or list API clients. A new key is printed "
        "only once."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a client and print its key once")
        create.add_argument("client_id")
        create.add_argument("--group", default="default")
        create.add_argument("--callback-url", default="")
        create.add_argument("--callback-basic-auth", default="", help="user:password")
        create.add_argument("--callback-signing-secret", default="")
        _retry_and_content_options(create)
        update = sub.add_parser("set", help="change a client's callback and content settings")
        update.add_argument("client_id")
        update.add_argument("--callback-url")
        update.add_argument("--callback-basic-auth", help="user:password ('' removes it)")
        update.add_argument("--callback-signing-secret")
        _retry_and_content_options(update)
        rotate = sub.add_parser("rotate", help="replace the key and print the new one once")
        rotate.add_argument("client_id")
        rotate.add_argument(
            "--grace",
            type=_duration,
            default=timedelta(0),
            help="keep the old key valid this long beside the new one: seconds, or 90m, 24h, "
            "7d (default 0: the old key stops at once; at most 30 days)",
        )
        for name, text in [
            ("disable", "refuse the client's key from now on"),
            ("enable", "accept the client's key again"),
        ]:
            sub.add_parser(name, help=text).add_argument("client_id")
        sub.add_parser("list", help="list clients (never keys)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            for client in client_list():
                state = "enabled" if client.enabled else "disabled"
                url = client.callback_url or "-"
                self.stdout.write(f"{client.client_id}\t{client.group.name}\t{state}\t{url}")
            return
        if action == "create":
            try:
                issued = client_create(
                    client_id=options["client_id"],
                    group_name=options["group"],
                    callback_url=options["callback_url"],
                    callback_basic_auth=options["callback_basic_auth"],
                    callback_signing_secret=options["callback_signing_secret"],
                    callback_attempts=options["attempts"],
                    callback_retry_delay=options["retry_delay"],
                    content_provider_url=options["content_provider_url"] or "",
                    content_provider_basic_auth=options["content_provider_basic_auth"] or "",
                    actor=CLI,
                )
            except ClientError as exc:
                raise CommandError(str(exc)) from None
            self._print_key(issued)
            return
        client = self._client(options["client_id"])
        if action == "set":
            changes = {
                name: options[option]
                for name, option in _SET_OPTIONS.items()
                if options[option] is not None
            }
            try:
                client_settings_update(client=client, changes=changes, actor=CLI)
            except ClientError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"{client.client_id} updated: {', '.join(changes) or 'nothing'}")
            return
        if action == "rotate":
            try:
                issued = client_rotate_key(client=client, actor=CLI, grace=options["grace"])
            except ClientError as exc:
                raise CommandError(str(exc)) from None
            self._print_key(issued)
            if issued.client.previous_key_expires_at:
                until = issued.client.previous_key_expires_at
                self.stdout.write(f"The old key stays valid until {until:%Y-%m-%d %H:%M:%S} UTC.")
        else:
            client_set_enabled(client=client, enabled=action == "enable", actor=CLI)
            self.stdout.write(f"{client.client_id} {action}d")

    def _client(self, client_id: str) -> Client:
        client = client_get_by_client_id(client_id)
        if client is None:
            raise CommandError(f"no client {client_id!r}")
        return client

    def _print_key(self, issued: IssuedKey) -> None:
        self.stdout.write(f"client-id: {issued.client.client_id}")
        self.stdout.write(f"key: {issued.key}")
        self.stdout.write(f"X-Api-Key: {issued.api_key_header}")
        self.stdout.write("The key is shown only now; it is stored hashed.")
