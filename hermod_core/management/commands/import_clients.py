"""Import clients from a Hermod configuration file (allowed-clients / allowedClients)."""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hermod_core.protocol.client_config import (
    MAX_CONFIG_CHARS,
    ClientConfigError,
    read_client_config,
)
from hermod_core.services.audit import Actor
from hermod_core.services.clients import ClientError, clients_import

CLI = Actor.system("cli")


class Command(BaseCommand):
    help = (
        "Create or update clients from a Hermod YAML configuration file (re-importing updates); "
        "every other setting of the file is reported on a 'note:' line."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            # At most one character past the limit is read: parse_client_config refuses it.
            with path.open(encoding="utf-8-sig") as file:
                text = file.read(MAX_CONFIG_CHARS + 1)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text") from None
        try:
            config = read_client_config(text)
            result = clients_import(entries=config.entries, notes=config.notes, actor=CLI)
        except (ClientConfigError, ClientError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"created {len(result.created)}: {', '.join(result.created) or '-'}; "
            f"updated {len(result.updated)}: {', '.join(result.updated) or '-'}"
        )
        for line in result.notes:
            self.stdout.write(f"note: {line}")
