"""Reads of clients."""

from hermod_core import sql
from hermod_core.models import Client


def client_get_by_client_id(client_id: str) -> Client | None:
    return Client.objects.select_related("group").filter(client_id=client_id).first()


def client_for_authentication(client_id: str) -> Client | None:
    """The client named in an X-Api-Key header, without its group (one cheap query)."""
    return sql.client_by_client_id(client_id)


def client_for_delivery(pk: int) -> Client:
    """The client a callback goes to (one cheap query: every callback attempt reads it)."""
    return sql.client_by_pk(pk)


def client_list() -> list[Client]:
    """Every client but the deleted ones (kept only for the commands that name them)."""
    return list(
        Client.objects.select_related("group").filter(deleted_at=None).order_by("client_id")
    )
