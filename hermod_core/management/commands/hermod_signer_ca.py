"""Trust, list or forget the CA certificates a group accepts for the signers of profile-less
``@tmp`` sign/authenticate answers (docs/PROTOCOL.md §6.3)."""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hermod_core.models import TrustedSignerCa
from hermod_core.selectors.console import group_get
from hermod_core.services.audit import Actor
from hermod_core.services.signer_cas import SignerCaError, signer_ca_add, signer_ca_remove

CLI = Actor.system("cli")


class Command(BaseCommand):
    help = (
        "Manage a group's trusted signer CAs: when a group has any, the certificate of a "
        "profile-less signature must chain to one of them; without any, such signatures "
        "complete as 'unverified signer'."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="trust a CA certificate (PEM or base64 DER file)")
        add.add_argument("group")
        add.add_argument("certificate", type=Path)
        add.add_argument("--label", default="")
        sub.add_parser("list", help="the group's trusted signer CAs").add_argument("group")
        remove = sub.add_parser("remove", help="stop trusting a CA (by its SHA-256)")
        remove.add_argument("group")
        remove.add_argument("sha256")

    def handle(self, *args: Any, **options: Any) -> None:
        group = group_get(options["group"])
        if group is None:
            raise CommandError(f"no group {options['group']!r}")
        action = options["action"]
        if action == "add":
            try:
                text = options["certificate"].read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"cannot read {options['certificate']}: {exc}") from None
            try:
                row = signer_ca_add(
                    group=group, certificate_text=text, label=options["label"], actor=CLI
                )
            except SignerCaError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"trusted {row.sha256} {row.subject}")
        elif action == "list":
            for row in TrustedSignerCa.objects.filter(group=group):
                self.stdout.write(
                    f"{row.sha256} {row.subject} (until {row.not_after:%Y-%m-%d})"
                    + (f" [{row.label}]" if row.label else "")
                )
        else:
            ca = TrustedSignerCa.objects.filter(group=group, sha256=options["sha256"]).first()
            if ca is None:
                raise CommandError(f"group {group.name!r} does not trust {options['sha256']}")
            signer_ca_remove(ca=ca, actor=CLI)
            self.stdout.write(f"removed {options['sha256']}")
