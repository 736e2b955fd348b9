"""Write every client in Hermod's configuration format, keys omitted."""

from typing import Any

from django.core.management.base import BaseCommand

from hermod_core.protocol.client_config import render_client_config
from hermod_core.selectors.clients import client_list
from hermod_core.services.clients import client_entry


class Command(BaseCommand):
    help = "Print all clients as an allowed-clients YAML document (keys are never exported)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(
            render_client_config([client_entry(client) for client in client_list()]), ending=""
        )
