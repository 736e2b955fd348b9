"""The hand-written statements in one place (docs/STYLE.md: tuned SQL kept in one module).

Each runs on a hot path (every API request, every command created, every device poll, every
callback attempt), where Django spends several times the round trip's CPU compiling the ORM form
of even a simple query (README "Performance"). Every function here has a test beside it
(tests/hermod_core/test_sql.py) showing that it returns what its ORM form returns, on SQLite and
PostgreSQL; nowhere else in the code opens a cursor or calls ``.raw()`` (the same test checks).

The callers decide what a row means (scoping, token comparison, transitions); this module only
reads and writes rows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Field, Model

from hermod_core.models import (
    CallbackAttempt,
    CallbackDelivery,
    Client,
    Command,
    DeliveryState,
    GroupPushSettings,
    Key,
    Mailbox,
    MailboxKind,
    Message,
    Profile,
    ProfileState,
)

M = TypeVar("M", bound=Model)


def _db() -> BaseDatabaseWrapper:
    """The database connection itself: ``connection`` is a proxy that looks it up again (in a
    context-local) at every attribute read, dozens of times for each row written or read."""
    return connections[DEFAULT_DB_ALIAS]


@cache
def _statement(model: type[Model], template: str, alias: str) -> str:
    """``template`` with ``{columns}`` spelled out: the model's concrete columns in field order
    (qualified by ``alias`` when given), so that a row's values line up with the fields however
    the table's columns are ordered, and a column added by a later migration is not read."""
    quote = connection.ops.quote_name
    prefix = f"{alias}." if alias else ""
    columns = ", ".join(f"{prefix}{quote(str(f.column))}" for f in model._meta.concrete_fields)
    return template.format(columns=columns)


@cache
def _converters(model: type[Model]) -> tuple[tuple[int, Any, tuple[Any, ...]], ...]:
    """Per field that has any, its position, its column expression and its converters: the
    backend's, then the field's own, as the ORM applies them."""
    converters = []
    for n, field in enumerate(model._meta.concrete_fields):
        col = field.get_col(model._meta.db_table)  # a foreign key's: its target's type
        found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if found:
            converters.append((n, col, tuple(found)))
    return tuple(converters)


def _instances(
    model: type[M],
    template: str,
    params: Sequence[Any],
    *,
    alias: str = "",
    extras: tuple[str, ...] = (),
) -> list[M]:
    """What ``list(model.objects.raw(<statement>, params))`` returns, without the work raw()
    repeats for every query (reading the columns' names, matching them to fields, finding their
    converters): the statement names the columns (``template``'s ``{columns}``), so all of that
    is known once per model. Columns selected after the model's, named in ``extras``, become
    attributes as the driver gives them."""
    db = _db()
    with db.cursor() as cursor:
        cursor.execute(_statement(model, template, alias), params)
        rows = cursor.fetchall()
    meta = model._meta
    count = len(meta.concrete_fields)
    attnames = [f.attname for f in meta.concrete_fields]
    instances = []
    for row in rows:
        values = list(row)
        for n, col, converters in _converters(model):
            for convert in converters:
                values[n] = convert(values[n], col, db)
        instance = model.from_db(db.alias, attnames, values[:count])
        for name, value in zip(extras, values[count:], strict=True):
            setattr(instance, name, value)
        instances.append(instance)
    return instances


@cache
def _columns(model: type[Model], alias: str) -> str:
    """The model's concrete columns in field order, qualified by ``alias``."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(str(f.column))}" for f in model._meta.concrete_fields)


def _instance(model: type[M], values: Sequence[Any], db: BaseDatabaseWrapper) -> M:
    """One row's instance from its columns' values in field order, converted as ``_instances``
    converts them."""
    values = list(values)
    for n, col, converters in _converters(model):
        for convert in converters:
            values[n] = convert(values[n], col, db)
    return model.from_db(db.alias, [f.attname for f in model._meta.concrete_fields], values)


def _uuid(value: uuid.UUID) -> Any:
    """A UUID as the database stores it (native on PostgreSQL, 32 hex digits on SQLite)."""
    return Mailbox._meta.pk.get_db_prep_value(value, connection)


# --- clients ---------------------------------------------------------------------------------

_CLIENT_BY_CLIENT_ID = "SELECT {columns} FROM hermod_client WHERE client_id = %s"
_CLIENT_BY_PK = "SELECT {columns} FROM hermod_client WHERE id = %s"


def client_by_client_id(client_id: str) -> Client | None:
    """``Client.objects.filter(client_id=client_id).first()``: every API request's
    authentication (X-Api-Key)."""
    return next(iter(_instances(Client, _CLIENT_BY_CLIENT_ID, [client_id])), None)


def client_by_pk(pk: int) -> Client:
    """``Client.objects.get(pk=pk)``: every callback attempt reads its client."""
    client = next(iter(_instances(Client, _CLIENT_BY_PK, [pk])), None)
    if client is None:
        raise Client.DoesNotExist(pk)
    return client


# --- profiles with their permanent box (docs/PROTOCOL.md §4.1) ---------------------------------

_PROFILE_SELECT = (
    "SELECT {columns}, m.id AS box_id FROM hermod_profile p "
    "JOIN hermod_mailbox m ON m.profile_id = p.id "
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
    # The model's columns are converted; the extra box_id column arrives as the driver gives it
    # (a UUID from PostgreSQL, 32 hex digits from SQLite).
    rows = _instances(Profile, sql, params, alias="p", extras=("box_id",))
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

_COMMAND_FOR_CLIENT = "SELECT {columns} FROM hermod_command WHERE id = %s AND client_id = %s"
_CLIENTS_OF_COMMANDS = "SELECT client_id FROM hermod_command WHERE id IN ({})"


def command_of_client(*, command_id: int, client_id: int) -> Command | None:
    """``Command.objects.filter(pk=command_id, client_id=client_id).first()``: every poll and
    cancel reads its command first."""
    return next(iter(_instances(Command, _COMMAND_FOR_CLIENT, [command_id, client_id])), None)


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


# --- a new command with its messages, callback row and tally (docs/PROTOCOL.md §4.2) -----------


@cache
def _inserted_fields(model: type[Model]) -> tuple[Field[Any, Any], ...]:
    """The columns an INSERT of ``model`` writes: every concrete field but an auto-increment id
    (as ``Model.save()`` does)."""
    meta = model._meta
    return tuple(f for f in meta.concrete_fields if f is not meta.auto_field)


@cache
def _insert_head(model: type[Model]) -> str:
    """``INSERT INTO <table> (<columns>)``: only the model's own names go into it."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in _inserted_fields(model))
    return f"INSERT INTO {quote(str(model._meta.db_table))} ({columns})"


def _row_values(
    instance: Model, fields: Sequence[Field[Any, Any]], db: BaseDatabaseWrapper
) -> list[Any]:
    """The database values of an unsaved instance, prepared as ``Model.save()`` prepares them
    (``pre_save`` stamps ``auto_now_add``, each field converts its own value)."""
    return [f.get_db_prep_save(f.pre_save(instance, True), db) for f in fields]


def _insert_rows(
    model: type[Model], instances: Sequence[Model], command_ref: str | None = None
) -> tuple[str, list[Any]]:
    """``INSERT INTO <table> (<columns>) VALUES (...), ...`` for ``instances`` and its
    parameters; with ``command_ref``, the ``command_id`` column takes that SQL expression instead
    of a value (the id the same statement gives the command)."""
    fields = _inserted_fields(model)
    db = _db()
    params: list[Any] = []
    rows = []
    for instance in instances:
        values = _row_values(instance, fields, db)
        cells = []
        for field, value in zip(fields, values, strict=True):
            if command_ref is not None and field.attname == "command_id":
                cells.append(command_ref)
            else:
                cells.append("%s")
                params.append(value)
        rows.append(f"({', '.join(cells)})")
    return f"{_insert_head(model)} VALUES {', '.join(rows)}", params


_NEW_COMMAND = "(SELECT id FROM command)"


def command_insert(
    *,
    command: Command,
    messages: Sequence[Message],
    callback: CallbackDelivery,
    tally_slot: int,
) -> None:
    """Insert a new command, its messages and its callback row, and add 1 to its client's tally
    slot ``tally_slot`` (models.commands.InProgressTally), all or nothing: what
    ``Command.objects.create``, ``Message.objects.create`` and ``CallbackDelivery.objects.create``
    of the same unsaved instances, then ``tally_add``, write in one transaction.

    On PostgreSQL it is one statement (data-modifying common table expressions: atomic by itself,
    one round trip, nothing for Django to compile); elsewhere four, in a transaction. The
    instances come back as saved: the command and the callback row with their ids, the messages
    and the callback row with their ``command_id``.
    """
    if connection.vendor == "postgresql":
        command_sql, params = _insert_rows(Command, [command])
        statement = f"WITH command AS ({command_sql} RETURNING id)"
        parts = {
            "message": _insert_rows(Message, messages, _NEW_COMMAND) if messages else None,
            "callback": _insert_rows(CallbackDelivery, [callback], _NEW_COMMAND),
            "tally": (_TALLY_ADD, [command.client_id, tally_slot, 1]),
        }
        for name, part in parts.items():
            if part is not None:
                returning = " RETURNING id" if name == "callback" else ""
                statement += f", {name} AS ({part[0]}{returning})"
                params.extend(part[1])
        with connection.cursor() as cursor:
            statement += " SELECT command.id, callback.id FROM command, callback"
            cursor.execute(statement, params)
            command.pk, callback.pk = cursor.fetchone()
        _attach(command, messages, callback)
    else:
        with transaction.atomic(savepoint=False), connection.cursor() as cursor:
            command_sql, params = _insert_rows(Command, [command])
            cursor.execute(command_sql + " RETURNING id", params)
            (command.pk,) = cursor.fetchone()
            _attach(command, messages, callback)
            if messages:
                cursor.execute(*_insert_rows(Message, messages))
            callback_sql, params = _insert_rows(CallbackDelivery, [callback])
            cursor.execute(callback_sql + " RETURNING id", params)
            (callback.pk,) = cursor.fetchone()
            cursor.execute(_TALLY_ADD, [command.client_id, tally_slot, 1])
    for instance in [command, *messages, callback]:
        instance._state.adding = False
        instance._state.db = connection.alias


def _attach(command: Command, messages: Sequence[Message], callback: CallbackDelivery) -> None:
    """The rows of a command just given its id point to it (``command_id`` and the cached
    relation, as ``save()`` leaves them)."""
    for message in messages:
        message.command = command
    callback.command = command


# --- boxes and keys (the device API, docs/PROTOCOL.md §6) -------------------------------------

_BOX_DIGEST = (
    "SELECT token_hash FROM hermod_mailbox WHERE id = %s AND kind = %s AND closed_at IS NULL"
)
_ACTIVE_KEYS = (
    "SELECT {columns} FROM hermod_key WHERE profile_id = %s AND keystate = 'ACTIVE' ORDER BY id"
)


def open_box_token_hash(bid: uuid.UUID) -> str | None:
    """The stored box-token digest of the open permanent box ``bid``, or None: the most frequent
    statement of the device API (every list, fetch and answer with a box token)."""
    with connection.cursor() as cursor:
        cursor.execute(_BOX_DIGEST, [_uuid(bid), MailboxKind.PERMANENT.value])
        row = cursor.fetchone()
    return None if row is None else str(row[0])


def active_keys(profile_id: uuid.UUID) -> list[Key]:
    """The profile's active keys in the order they were stored: read for every signed answer."""
    return _instances(Key, _ACTIVE_KEYS, [_uuid(profile_id)])


# --- push (docs/PROTOCOL.md §14) --------------------------------------------------------------

_PUSH_SETTINGS = "SELECT {columns} FROM hermod_group_push_settings WHERE group_id = %s"


def group_push_settings(group_id: int) -> GroupPushSettings | None:
    """``GroupPushSettings.objects.filter(group_id=group_id).first()``: read for every command
    created (which providers can wake its boxes)."""
    return next(iter(_instances(GroupPushSettings, _PUSH_SETTINGS, [group_id])), None)


# --- callbacks ------------------------------------------------------------------------------

# Only placeholders are joined into the statement (one per delivery id).
_CALLBACKS_CLAIM = (
    "UPDATE hermod_callback_delivery SET next_attempt_at = %s "
    "WHERE id IN ({ids}) AND state = %s AND next_attempt_at <= %s RETURNING {columns}"
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
    statement = _CALLBACKS_CLAIM.replace("{ids}", ", ".join(["%s"] * len(delivery_ids)))
    params = [adapt(lease), *delivery_ids, DeliveryState.PENDING.value, adapt(now)]
    return _instances(CallbackDelivery, statement, params)


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


# A delivery, its command and its client in one row; the commands' messages in a second query.
_CALLBACKS_WAITING = (
    "SELECT {delivery}, {command}, {client} FROM hermod_callback_delivery d "
    "JOIN hermod_command c ON c.id = d.command_id JOIN hermod_client k ON k.id = d.client_id "
    "WHERE d.command_id IN ({ids}) AND d.state = %s ORDER BY d.id DESC"
)
_MESSAGES_OF_COMMANDS = (
    "SELECT {columns} FROM hermod_message WHERE command_id IN ({ids}) ORDER BY created_at, id"
)


def callbacks_waiting(command_ids: list[int]) -> list[tuple[CallbackDelivery, list[Message]]]:
    """The WAITING callback rows of ``command_ids``, each with its command and client attached
    and the command's messages (in their model's order): what
    ``CallbackDelivery.objects.filter(command_id__in=command_ids, state=WAITING)
    .select_related("command", "client").prefetch_related("command__messages")`` reads, in as
    many queries, without the ORM compiling them and populating the relations row by row (most
    of the expiry sweep's CPU)."""
    if not command_ids:
        return []
    db = _db()
    ids = ", ".join(["%s"] * len(command_ids))
    statement = _CALLBACKS_WAITING.format(
        delivery=_columns(CallbackDelivery, "d"),
        command=_columns(Command, "c"),
        client=_columns(Client, "k"),
        ids=ids,
    )
    with db.cursor() as cursor:
        cursor.execute(statement, [*command_ids, DeliveryState.WAITING.value])
        rows = cursor.fetchall()
    if not rows:
        return []
    first = len(CallbackDelivery._meta.concrete_fields)
    second = first + len(Command._meta.concrete_fields)
    deliveries: list[tuple[CallbackDelivery, int]] = []
    clients: dict[int, Client] = {}  # a batch's rows are mostly one client's: one instance each
    for row in rows:
        delivery = _instance(CallbackDelivery, row[:first], db)
        command = delivery.command = _instance(Command, row[first:second], db)
        client = clients.get(row[second])  # its id, the first of its columns
        if client is None:
            client = clients[row[second]] = _instance(Client, row[second:], db)
        delivery.client = client
        deliveries.append((delivery, command.pk))
    messages: dict[int, list[Message]] = {pk: [] for _, pk in deliveries}
    found = _MESSAGES_OF_COMMANDS.replace("{ids}", ", ".join(["%s"] * len(messages)))
    for message in _instances(Message, found, list(messages)):
        messages[message.command_id].append(message)
    return [(delivery, messages[pk]) for delivery, pk in deliveries]


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt at a delivery, and what it changes in the delivery's row."""

    delivery_id: int
    number: int
    status_code: int | None
    error: str  # the attempt's error and the row's ``last_error``
    duration_ms: int
    at: datetime  # when the attempt is recorded (``CallbackAttempt.at``)
    attempts: int | None  # the row's count after; None: one more than the row has then
    state: str
    next_attempt_at: datetime | None
    delivered_at: datetime | None  # None: left as it is


# The records come as one JSON array (one parameter to quote); the attempts are inserted by a
# data-modifying CTE of the same statement, so both writes are one atomic statement.
_CALLBACKS_RECORD = (
    "WITH r AS (SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r(delivery_id bigint, "
    "number integer, status_code integer, error text, duration_ms integer, at timestamptz, "
    "attempts integer, state text, next_attempt_at timestamptz, delivered_at timestamptz)), "
    "a AS (INSERT INTO hermod_callback_attempt "
    "(delivery_id, number, status_code, error, duration_ms, at) "
    "SELECT delivery_id, number, status_code, error, duration_ms, at FROM r) "
    "UPDATE hermod_callback_delivery AS d SET attempts = coalesce(r.attempts, d.attempts + 1), "
    "last_status = r.status_code, last_error = r.error, state = r.state, "
    "next_attempt_at = r.next_attempt_at, delivered_at = coalesce(r.delivered_at, d.delivered_at) "
    "FROM r WHERE d.id = r.delivery_id AND d.state = %s"
)


def callbacks_record(records: list[AttemptRecord]) -> None:
    """An attempt row per record (``CallbackAttempt``), and each record's changes to its
    delivery if that is still PENDING (a delivery somebody else finished meanwhile is never
    changed back). On PostgreSQL one statement for the whole batch; elsewhere, in one
    transaction, its ORM form: ``bulk_create`` of the attempts and an UPDATE per delivery."""
    if not records:
        return
    if connection.vendor != "postgresql":
        _callbacks_record_orm(records)
        return
    rows = [
        {
            "delivery_id": r.delivery_id,
            "number": r.number,
            "status_code": r.status_code,
            "error": r.error,
            "duration_ms": r.duration_ms,
            "at": r.at.isoformat(),
            "attempts": r.attempts,
            "state": r.state,
            "next_attempt_at": None if r.next_attempt_at is None else r.next_attempt_at.isoformat(),
            "delivered_at": None if r.delivered_at is None else r.delivered_at.isoformat(),
        }
        for r in records
    ]
    with _db().cursor() as cursor:
        cursor.execute(_CALLBACKS_RECORD, [json.dumps(rows), DeliveryState.PENDING.value])


@transaction.atomic
def _callbacks_record_orm(records: list[AttemptRecord]) -> None:
    CallbackAttempt.objects.bulk_create(
        CallbackAttempt(
            delivery_id=r.delivery_id,
            number=r.number,
            status_code=r.status_code,
            error=r.error,
            duration_ms=r.duration_ms,
            at=r.at,
        )
        for r in records
    )
    for r in records:
        changes: dict[str, object] = {
            "attempts": F("attempts") + 1 if r.attempts is None else r.attempts,
            "last_status": r.status_code,
            "last_error": r.error,
            "state": r.state,
            "next_attempt_at": r.next_attempt_at,
        }
        if r.delivered_at is not None:
            changes["delivered_at"] = r.delivered_at
        CallbackDelivery.objects.filter(pk=r.delivery_id, state=DeliveryState.PENDING).update(
            **changes
        )


# --- health -----------------------------------------------------------------------------------


def database_ping() -> str:
    """Run ``SELECT 1`` (raises if the database is unreachable); the database's vendor."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor
