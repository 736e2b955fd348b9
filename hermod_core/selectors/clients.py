"""Reads of clients."""

from hermod_core.models import Client


def client_get_by_client_id(client_id: str) -> Client | None:
    return Client.objects.select_related("group").filter(client_id=client_id).first()


def client_list() -> list[Client]:
    return list(Client.objects.select_related("group").order_by("client_id"))
