"""Configure a group's push providers (docs/PROTOCOL.md §14, docs/push.md) from the command line.

Secrets are read from files (``--relay-credential-file``, ``--fcm-service-account``,
``--apns-key``), never from the command line where ``ps`` would show them, and never printed.
"""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hermod_core.models import GroupPushSettings, RelayAuth
from hermod_core.push.providers import vapid_subject
from hermod_core.selectors.console import group_get
from hermod_core.services.audit import Actor
from hermod_core.services.push import (
    PushConfigurationError,
    PushSettingsChange,
    push_settings_set,
)

CLI = Actor.system("cli")


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None


def _flag(value: str | None) -> bool | None:
    return None if value is None else value == "on"


class Command(BaseCommand):
    help = (
        "Set or show how a group wakes its devices: relay (a notification server), Web Push, "
        "FCM or APNs. Options not given keep their value; secrets come from files and are "
        "never printed."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        set_ = sub.add_parser("set", help="change the group's push settings")
        set_.add_argument("group")
        set_.add_argument("--requestor", help="name shown on the phone (blank: the client id)")
        set_.add_argument("--relay-url", help="notification server URL ('' turns relay off)")
        set_.add_argument("--relay-auth", choices=RelayAuth.values)
        set_.add_argument(
            "--relay-credential-file",
            type=Path,
            help="file holding user:password (basic) or the token (bearer)",
        )
        set_.add_argument("--webpush", choices=["on", "off"], help="Web Push / UnifiedPush")
        set_.add_argument("--vapid-subject", help="mailto: or https: contact for push services")
        set_.add_argument(
            "--rotate-vapid", action="store_true", help="new VAPID keys (devices re-register)"
        )
        set_.add_argument("--fcm-service-account", type=Path, help="service-account JSON file")
        set_.add_argument("--apns-key", type=Path, help="the .p8 key file")
        set_.add_argument("--apns-key-id")
        set_.add_argument("--apns-team-id")
        set_.add_argument("--apns-topic", help="the app's bundle id")
        set_.add_argument(
            "--apns-environment", choices=["production", "sandbox"], help="APNs servers"
        )
        set_.add_argument(
            "--clear",
            action="append",
            choices=["relay-credential", "fcm", "apns"],
            default=[],
            help="remove a stored secret (repeatable)",
        )
        sub.add_parser("show", help="print the settings (never a secret)").add_argument("group")

    def handle(self, *args: Any, **options: Any) -> None:
        group = group_get(options["group"])
        if group is None:
            raise CommandError(f"no group {options['group']!r}")
        if options["action"] == "set":
            cleared = set(options["clear"])
            environment = options["apns_environment"]
            change = PushSettingsChange(
                requestor=options["requestor"],
                relay_url=options["relay_url"],
                relay_auth=options["relay_auth"],
                relay_credential=""
                if "relay-credential" in cleared
                else _read(options["relay_credential_file"]),
                webpush_enabled=_flag(options["webpush"]),
                vapid_subject=options["vapid_subject"],
                vapid_rotate=options["rotate_vapid"],
                fcm_service_account=""
                if "fcm" in cleared
                else _read(options["fcm_service_account"]),
                apns_key="" if "apns" in cleared else _read(options["apns_key"]),
                apns_key_id=options["apns_key_id"],
                apns_team_id=options["apns_team_id"],
                apns_topic=options["apns_topic"],
                apns_sandbox=None if environment is None else environment == "sandbox",
            )
            try:
                push_settings_set(group=group, change=change, actor=CLI)
            except PushConfigurationError as exc:
                raise CommandError(str(exc)) from None
        config = GroupPushSettings.objects.filter(group=group).first()
        if config is None:
            self.stdout.write(f"group {group.name}: no push configured (devices poll)")
            return
        self._show(config)

    def _show(self, config: GroupPushSettings) -> None:
        def kept(sealed: str) -> str:
            return "set" if sealed else "none"

        lines = [
            f"group: {config.group.name}",
            f"providers: {', '.join(sorted(config.providers())) or 'none (devices poll)'}",
            f"requestor: {config.requestor or '(the client id)'}",
            f"relay: {config.relay_url or 'off'} auth={config.relay_auth} "
            f"credential={kept(config.relay_credential_sealed)}",
            f"webpush: {'on' if config.webpush_enabled else 'off'} "
            f"subject={vapid_subject(config)} vapid-public-key={config.vapid_public or 'none'}",
            f"fcm: service-account={kept(config.fcm_service_account_sealed)}",
            f"apns: key={kept(config.apns_key_sealed)} key-id={config.apns_key_id or '-'} "
            f"team-id={config.apns_team_id or '-'} topic={config.apns_topic or '-'} "
            f"environment={'sandbox' if config.apns_sandbox else 'production'}",
        ]
        self.stdout.write("\n".join(lines))
