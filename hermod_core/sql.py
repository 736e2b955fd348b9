"""The hand-written statements in one place (docs/STYLE.md: tuned SQL kept in one module).

Each runs on a hot path (every API request, every command created, every device poll, every
callback attempt), where Django spends several times the round trip's CPU compiling the ORM form
of even a simple query (README "Performance"). Every function here has a test beside it
(tests/hermod_core/test_sql.py) showing that it returns what its ORM form returns, on SQLite and
PostgreSQL; nowhere else in the code opens a cursor or calls ``.raw()`` (the same test checks).

The callers decide what a row means (scoping, token comparison, transitions); this module only
reads and writes rows.
"""

import json
import uuid
from datetime import datetime
from typing import Any

from django.db import connection

from hermod_core.models import (
    CallbackDelivery,
    Client,
    Command,
    DeliveryState,
    Key,
    Mailbox,
    MailboxKind,
    Profile,
    ProfileState,
)


def _uuid(value: uuid.UUID) -> Any:
    """A UUID as the database stores it (native on PostgreSQL, 32 hex digits on SQLite)."""
    return Mailbox._meta.pk.get_db_prep_value(value, connection)


# --- clients ---------------------------------------------------------------------------------

_CLIENT_BY_CLIENT_ID = "SELECT * FROM hermod_client WHERE client_id = %s"
_CLIENT_BY_PK = "SELECT * FROM hermod_client WHERE id = %s"


def client_by_client_id(client_id: str) -> Client | None:
    """``Client.objects.filter(client_id=client_id).first()``: every API request's
    authentication (X-Api-Key)."""
    return next(iter(Client.objects.raw(_CLIENT_BY_CLIENT_ID, [client_id])), None)


def client_by_pk(pk: int) -> Client:
    """``Client.objects.get(pk=pk)``: every callback attempt reads its client."""
    client = next(iter(Client.objects.raw(_CLIENT_BY_PK, [pk])), None)
    if client is None:
        raise Client.DoesNotExist(pk)
    return client


# --- profiles with their permanent box (docs/PROTOCOL.md §4.1) ---------------------------------

_PROFILE_SELECT = (
    "SELECT p.*, m.id AS box_id FROM hermod_profile p JOIN hermod_mailbox m ON m.profile_id = p.id "
)
_PROFILE_BY_ID = _PROFILE_SELECT + "WHERE p.id = %s AND p.group_id = %s AND p.state = %s"
_PROFILES_OF_USER = (
    _PROFILE_SELECT + "JOIN hermod_user u ON u.id = p.user_id "
    "WHERE u.userid = %s AND p.group_id = %s AND p.state = %s AND m.closed_at IS NULL "
    "ORDER BY p.created_at"
)
# The newest active profile of a smart card whose box is open: a card re-provisioned without
# deleting its old profile first is addressed as its newest profile (decided).
_PROFILE_OF_SMARTCARD = (
    _PROFILE_SELECT + "WHERE p.smartcard_id = %s AND p.group_id = %s AND p.state = %s "
    "AND m.closed_at IS NULL ORDER BY p.created_at DESC LIMIT 1"
)

ProfileBox = tuple[Profile, uuid.UUID]


def _with_box(sql: str, params: list[object]) -> list[ProfileBox]:
    # raw() converts the model's columns; the extra box_id column arrives as the driver gives it
    # (a UUID from PostgreSQL, 32 hex digits from SQLite).
    rows = Profile.objects.raw(sql, params)
    return [(p, uuid.UUID(str(p.box_id))) for p in rows]  # type: ignore[attr-defined]


def active_profile_with_box(*, group_id: int, profile_id: uuid.UUID) -> ProfileBox | None:
    """The group's active profile ``profile_id`` and the id of its permanent box (open or not)."""
    rows = _with_box(_PROFILE_BY_ID, [_uuid(profile_id), group_id, ProfileState.ACTIVE.value])
    return rows[0] if rows else None


def active_profiles_of_user_with_box(*, group_id: int, userid: str) -> list[ProfileBox]:
    """The user's active profiles in the group whose boxes are open, oldest first."""
    return _with_box(_PROFILES_OF_USER, [userid, group_id, ProfileState.ACTIVE.value])


def active_profile_of_smartcard_with_box(*, group_id: int, smartcard_id: str) -> ProfileBox | None:
    """The newest active profile of the smart card in the group whose box is open."""
    params: list[object] = [smartcard_id, group_id, ProfileState.ACTIVE.value]
    rows = _with_box(_PROFILE_OF_SMARTCARD, params)
    return rows[0] if rows else None


# --- commands -------------------------------------------------------------------------------

_COMMAND_FOR_CLIENT = "SELECT * FROM hermod_command WHERE id = %s AND client_id = %s"
_CLIENTS_OF_COMMANDS = "SELECT client_id FROM hermod_command WHERE id IN ({})"


def command_of_client(*, command_id: int, client_id: int) -> Command | None:
    """``Command.objects.filter(pk=command_id, client_id=client_id).first()``: every poll and
    cancel reads its command first."""
    return next(iter(Command.objects.raw(_COMMAND_FOR_CLIENT, [command_id, client_id])), None)


def clients_of_commands(command_ids: list[int]) -> list[int]:
    """The client id of each command (one per command, repeated as often): the commands that
    just ended are taken off their clients' tallies."""
    if not command_ids:
        return []
    # Only placeholders are joined into the statement.
    sql = _CLIENTS_OF_COMMANDS.format(", ".join(["%s"] * len(command_ids)))
    with connection.cursor() as cursor:
        cursor.execute(sql, command_ids)
        return [client_id for (client_id,) in cursor.fetchall()]


# --- the in-progress tally (models.commands.InProgressTally) ----------------------------------

_IN_PROGRESS = "SELECT coalesce(sum(count), 0) FROM hermod_in_progress_tally WHERE client_id = %s"
# Adds to one of the client's tally slots, creating it first.
_TALLY_ADD = (
    "INSERT INTO hermod_in_progress_tally (client_id, slot, count) VALUES (%s, %s, %s) "
    "ON CONFLICT (client_id, slot) "
    "DO UPDATE SET count = hermod_in_progress_tally.count + excluded.count"
)


def in_progress_count(client_id: int) -> int:
    """The sum of the client's tally slots: read for every command created."""
    with connection.cursor() as cursor:
        cursor.execute(_IN_PROGRESS, [client_id])
        (count,) = cursor.fetchone()
    return int(count)


def tally_add(*, client_id: int, slot: int, change: int) -> None:
    """Add ``change`` to the client's tally slot ``slot`` (an upsert: concurrent writers of
    different slots never wait for each other)."""
    with connection.cursor() as cursor:
        cursor.execute(_TALLY_ADD, [client_id, slot, change])


# --- boxes and keys (the device API, docs/PROTOCOL.md §6) -------------------------------------

_BOX_DIGEST = (
    "SELECT token_hash FROM hermod_mailbox WHERE id = %s AND kind = %s AND closed_at IS NULL"
)
_ACTIVE_KEYS = "SELECT * FROM hermod_key WHERE profile_id = %s AND keystate = 'ACTIVE' ORDER BY id"


def open_box_token_hash(bid: uuid.UUID) -> str | None:
    """The stored box-token digest of the open permanent box ``bid``, or None: the most frequent
    statement of the device API (every list, fetch and answer with a box token)."""
    with connection.cursor() as cursor:
        cursor.execute(_BOX_DIGEST, [_uuid(bid), MailboxKind.PERMANENT.value])
        row = cursor.fetchone()
    return None if row is None else str(row[0])


def active_keys(profile_id: uuid.UUID) -> list[Key]:
    """The profile's active keys in the order they were stored: read for every signed answer."""
    return list(Key.objects.raw(_ACTIVE_KEYS, [_uuid(profile_id)]))


# --- callbacks ------------------------------------------------------------------------------

# Only placeholders are joined into the statement (one per delivery id).
_CALLBACKS_CLAIM = (
    "UPDATE hermod_callback_delivery SET next_attempt_at = %s "
    "WHERE id IN ({}) AND state = %s AND next_attempt_at <= %s RETURNING *"
)


def callbacks_claim(
    *, delivery_ids: list[int], now: datetime, lease: datetime
) -> list[CallbackDelivery]:
    """Move the pending deliveries of ``delivery_ids`` due by ``now`` to ``lease`` and return
    them as they are after (in no particular order); the others are left out. One conditional
    UPDATE: of workers racing for the same row, only the one whose UPDATE matched gets it back
    (the others find it no longer due)."""
    if not delivery_ids:
        return []
    adapt = connection.ops.adapt_datetimefield_value
    statement = _CALLBACKS_CLAIM.format(", ".join(["%s"] * len(delivery_ids)))
    params = [adapt(lease), *delivery_ids, DeliveryState.PENDING.value, adapt(now)]
    return list(CallbackDelivery.objects.raw(statement, params))


def callback_claim(*, delivery_id: int, now: datetime, lease: datetime) -> CallbackDelivery | None:
    """``callbacks_claim`` of one delivery: the row, or None if it is not pending or not due."""
    claimed = callbacks_claim(delivery_ids=[delivery_id], now=now, lease=lease)
    return claimed[0] if claimed else None


# The rows' new values come as one JSON array (one parameter to quote, not one per value).
_CALLBACKS_RELEASE = (
    "UPDATE hermod_callback_delivery AS d "
    "SET body = r.body, state = r.state, next_attempt_at = r.next_attempt_at "
    "FROM jsonb_to_recordset(%s::jsonb) "
    "AS r(id bigint, body jsonb, state text, next_attempt_at timestamptz) WHERE d.id = r.id"
)
_RELEASED_FIELDS = ["body", "state", "next_attempt_at"]


def callbacks_release(deliveries: list[CallbackDelivery]) -> None:
    """``delivery.save(update_fields=["body", "state", "next_attempt_at"])`` of each delivery:
    on PostgreSQL one statement for all of them (the expiry sweep releases hundreds at once;
    Django's ``bulk_update``, a CASE per column, costs more to build than separate UPDATEs)."""
    if connection.vendor != "postgresql" or len(deliveries) < 2:
        for delivery in deliveries:
            delivery.save(update_fields=_RELEASED_FIELDS)
        return
    rows = [
        {
            "id": d.pk,
            "body": d.body,
            "state": d.state,
            "next_attempt_at": None if d.next_attempt_at is None else d.next_attempt_at.isoformat(),
        }
        for d in deliveries
    ]
    encoder = CallbackDelivery._meta.get_field("body").encoder
    with connection.cursor() as cursor:
        cursor.execute(_CALLBACKS_RELEASE, [json.dumps(rows, cls=encoder)])


# --- health -----------------------------------------------------------------------------------


def database_ping() -> str:
    """Run ``SELECT 1`` (raises if the database is unreachable); the database's vendor."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor
