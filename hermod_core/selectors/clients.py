"""Reads of clients."""

from hermod_core.models import Client

# Every API request authenticates and every callback attempt reads its client: hand-written,
# since Django spends several times the round trip's CPU compiling the ORM form of even these
# queries (README "Performance").
_BY_CLIENT_ID = "SELECT * FROM hermod_client WHERE client_id = %s"
_BY_PK = "SELECT * FROM hermod_client WHERE id = %s"


def client_get_by_client_id(client_id: str) -> Client | None:
    return Client.objects.select_related("group").filter(client_id=client_id).first()


def client_for_authentication(client_id: str) -> Client | None:
    """The client named in an X-Api-Key header, without its group (one cheap query)."""
    return next(iter(Client.objects.raw(_BY_CLIENT_ID, [client_id])), None)


def client_for_delivery(pk: int) -> Client:
    """The client a callback goes to (one cheap query: every callback attempt reads it)."""
    return next(iter(Client.objects.raw(_BY_PK, [pk])))


def client_list() -> list[Client]:
    """Every client but the deleted ones (kept only for the commands that name them)."""
    return list(
        Client.objects.select_related("group").filter(deleted_at=None).order_by("client_id")
    )
