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

from hermod_core.lifecycle import (
    OPEN_DESTINATIONS,
    DestinationState,
    State,
    destination_sources,
)
from hermod_core.models import (
    AcceptedSignature,
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


def _instance(model: type[M], values: list[Any], db: BaseDatabaseWrapper) -> M:
    """An instance of ``model`` from its concrete columns' values as the driver gave them,
    converted as the ORM converts them."""
    for n, col, converters in _converters(model):
        for convert in converters:
            values[n] = convert(values[n], col, db)
    return model.from_db(db.alias, _attnames(model), values)


@cache
def _attnames(model: type[Model]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


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
    count = len(model._meta.concrete_fields)
    instances = []
    for row in rows:
        instance = _instance(model, list(row[:count]), db)
        for name, value in zip(extras, row[count:], strict=True):
            setattr(instance, name, value)
        instances.append(instance)
    return instances


# One model's columns in a joined statement: the placeholder of its columns in the template
# (``{name}``), the model, and the table's alias in the statement.
Part = tuple[str, type[Model], str]


@cache
def _pk_position(model: type[Model]) -> int:
    return list(model._meta.concrete_fields).index(model._meta.pk)


@cache
def _joined_statement(template: str, parts: tuple[Part, ...]) -> str:
    quote = connection.ops.quote_name
    return template.format(
        **{
            name: ", ".join(f"{alias}.{quote(str(f.column))}" for f in model._meta.concrete_fields)
            for name, model, alias in parts
        }
    )


def _joined(
    template: str, parts: tuple[Part, ...], params: Sequence[Any]
) -> list[tuple[Model | None, ...]]:
    """The rows of a statement that selects the columns of several models (``parts``, in the
    order of the template's placeholders), each row as one instance per model (None for a model
    whose primary key is NULL: an outer join that found nothing). A row of a model met again in
    the same result is the same instance: the callbacks a sweep batch releases share their
    client, built once instead of once per row."""
    db = _db()
    with db.cursor() as cursor:
        cursor.execute(_joined_statement(template, parts), params)
        rows = cursor.fetchall()
    found: list[tuple[Model | None, ...]] = []
    built: dict[tuple[type[Model], Any], Model] = {}
    for row in rows:
        start = 0
        instances: list[Model | None] = []
        for _, model, _ in parts:
            fields = model._meta.concrete_fields
            end = start + len(fields)
            pk = row[start + _pk_position(model)]
            if pk is None:
                instances.append(None)
            elif (model, pk) in built:
                instances.append(built[model, pk])
            else:
                instance = built[model, pk] = _instance(model, list(row[start:end]), db)
                instances.append(instance)
            start = end
        found.append(tuple(instances))
    return found


def _placeholders(values: Sequence[object]) -> str:
    return ", ".join(["%s"] * len(values))


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


_COMMANDS_END = "UPDATE hermod_command SET {sets} WHERE id IN ({ids}) AND state IN ({sources})"


def commands_end(*, command_ids: list[int], sources: list[str], changes: dict[str, Any]) -> int:
    """``Command.objects.filter(pk__in=command_ids, state__in=sources).update(**changes)``: the
    conditional UPDATE of ``services.commands.commands_transition`` (``changes`` names fields or
    their attnames; their values are prepared by each field, as the ORM's UPDATE does). Returns
    how many rows it changed."""
    db = _db()
    quote = db.ops.quote_name
    fields = [Command._meta.get_field(name) for name in changes]
    sets = ", ".join(f"{quote(str(f.column))} = %s" for f in fields)  # type: ignore[union-attr]
    # Only the model's own column names and placeholders are joined into the statement.
    statement = _COMMANDS_END.format(
        sets=sets, ids=_placeholders(command_ids), sources=_placeholders(sources)
    )
    values = [
        f.get_db_prep_save(v, db)  # type: ignore[union-attr]
        for f, v in zip(fields, changes.values(), strict=True)
    ]
    with db.cursor() as cursor:
        cursor.execute(statement, [*values, *command_ids, *sources])
        return int(cursor.rowcount)


_MESSAGES_END = (
    "UPDATE hermod_message SET state = %s WHERE command_id IN ({ids}) AND state IN ({sources})"
)


def messages_end(*, command_ids: list[int], sources: list[str], to: str) -> int:
    """``Message.objects.filter(command_id__in=command_ids, state__in=sources).update(state=to)``:
    the destinations still open when their commands end (``services.commands``). Returns how many
    rows it changed."""
    statement = _MESSAGES_END.format(ids=_placeholders(command_ids), sources=_placeholders(sources))
    with connection.cursor() as cursor:
        cursor.execute(statement, [to, *command_ids, *sources])
        return int(cursor.rowcount)


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


_MESSAGE_WITH_COMMAND = (
    "SELECT {message}, {command}, {profile} FROM hermod_message m "
    "JOIN hermod_command c ON c.id = m.command_id "
    "LEFT JOIN hermod_profile p ON p.id = m.profile_id "
    "WHERE m.id = %s AND m.mailbox_id = %s"
)
_MESSAGE_PARTS: tuple[Part, ...] = (
    ("message", Message, "m"),
    ("command", Command, "c"),
    ("profile", Profile, "p"),
)


def message_with_command(*, mid: uuid.UUID, bid: uuid.UUID) -> Message | None:
    """``Message.objects.filter(pk=mid, mailbox_id=bid).select_related("command", "profile")
    .first()``: every answer reads its message so."""
    rows = _joined(_MESSAGE_WITH_COMMAND, _MESSAGE_PARTS, [_uuid(mid), _uuid(bid)])
    if not rows:
        return None
    message, command, profile = rows[0]
    assert isinstance(message, Message)
    _set_related(message, "command", command)
    _set_related(message, "profile", profile)
    return message


def _set_related(instance: Model, name: str, related: Model | None) -> None:
    """Cache ``related`` as ``instance``'s foreign key ``name``, as ``select_related`` does (the
    id column stays as read)."""
    field = instance._meta.get_field(name)
    field.set_cached_value(instance, related)  # type: ignore[union-attr]


# The claim of an answered message: the conditional UPDATE of services.commands.
# messages_transition to ANSWERED with selectors.mailbox.visible_messages as its condition
# (open, its command in progress, neither past due, its content resolved), spelled out once here
# and checked against that ORM form by tests/hermod_core/test_sql.py.
_MESSAGE_CLAIM_ANSWER = (
    "UPDATE hermod_message SET state = %s, answered_at = %s "
    "WHERE id = %s AND state IN ({sources}) AND (state = %s OR expires_at > %s) "
    "AND command_id IN (SELECT id FROM hermod_command "
    "WHERE state = %s AND expires_at > %s AND content_ready)"
)


_CLAIM_SOURCES = sorted(
    s.value for s in destination_sources(DestinationState.ANSWERED) & OPEN_DESTINATIONS
)
_MESSAGE_CLAIM_ANSWER = _MESSAGE_CLAIM_ANSWER.replace(
    "{sources}", ", ".join(["%s"] * len(_CLAIM_SOURCES))
)


def message_claim_answer(*, mid: uuid.UUID, now: datetime) -> int:
    """Move the visible message ``mid`` to ANSWERED at ``now``; 1 if this call did, else 0."""
    at = connection.ops.adapt_datetimefield_value(now)
    params = [
        DestinationState.ANSWERED.value, at, _uuid(mid), *_CLAIM_SOURCES,
        DestinationState.FETCHED.value, at, State.IN_PROGRESS.value, at,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_MESSAGE_CLAIM_ANSWER, params)
        return int(cursor.rowcount)


def accepted_signature_add(signature: AcceptedSignature) -> bool:
    """Insert the unsaved ``signature`` unless a row with the same key is there (either unique
    constraint of ``AcceptedSignature``): True if it was inserted. One statement that never fails
    on the conflict (``ON CONFLICT DO NOTHING``), so no savepoint is needed around it: like a
    plain INSERT it waits for a concurrent transaction that inserted the same key, and finds the
    conflict once that one commits (or inserts, if it rolled back)."""
    statement, params = _insert_rows(AcceptedSignature, [signature])
    with connection.cursor() as cursor:
        cursor.execute(f"{statement} ON CONFLICT DO NOTHING RETURNING id", params)
        row = cursor.fetchone()
    if row is None:
        return False
    signature.pk = row[0]
    signature._state.adding = False
    signature._state.db = connection.alias
    return True


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


_CALLBACKS_WAITING = (
    "SELECT {delivery}, {command}, {client} FROM hermod_callback_delivery d "
    "JOIN hermod_command c ON c.id = d.command_id JOIN hermod_client k ON k.id = d.client_id "
    "WHERE d.command_id IN ({ids}) AND d.state = %s ORDER BY d.id DESC"
)
_DELIVERY_PARTS: tuple[Part, ...] = (
    ("delivery", CallbackDelivery, "d"),
    ("command", Command, "c"),
    ("client", Client, "k"),
)
_MESSAGES_OF_COMMANDS = (
    "SELECT {columns} FROM hermod_message WHERE command_id IN ({ids}) ORDER BY created_at, id"
)


def callbacks_waiting(command_ids: list[int]) -> list[CallbackDelivery]:
    """``CallbackDelivery.objects.filter(command_id__in=command_ids, state=WAITING)
    .select_related("command", "client")``: the callback rows a command's end releases."""
    if not command_ids:
        return []
    # Only placeholders are joined into the statement (one per command id).
    template = _CALLBACKS_WAITING.replace("{ids}", _placeholders(command_ids))
    deliveries = []
    rows = _joined(template, _DELIVERY_PARTS, [*command_ids, DeliveryState.WAITING.value])
    for delivery, command, client in rows:
        assert isinstance(delivery, CallbackDelivery)
        _set_related(delivery, "command", command)
        _set_related(delivery, "client", client)
        deliveries.append(delivery)
    return deliveries


def messages_of_commands(command_ids: list[int]) -> list[Message]:
    """``Message.objects.filter(command_id__in=command_ids)``, in the model's order."""
    if not command_ids:
        return []
    template = _MESSAGES_OF_COMMANDS.replace("{ids}", _placeholders(command_ids))
    return _instances(Message, template, command_ids)


# The rows' new values come as one JSON array (one parameter to quote, not one per value).
_CALLBACKS_RELEASE = (
    "UPDATE hermod_callback_delivery AS d "
    "SET body = r.body, state = r.state, next_attempt_at = r.next_attempt_at "
    "FROM jsonb_to_recordset(%s::jsonb) "
    "AS r(id bigint, body jsonb, state text, next_attempt_at timestamptz) WHERE d.id = r.id"
)
_RELEASED_FIELDS = ["body", "state", "next_attempt_at"]
_CALLBACK_RELEASE = (
    "UPDATE hermod_callback_delivery SET body = %s, state = %s, next_attempt_at = %s WHERE id = %s"
)


def callbacks_release(deliveries: list[CallbackDelivery]) -> None:
    """``delivery.save(update_fields=["body", "state", "next_attempt_at"])`` of each delivery:
    on PostgreSQL one statement for all of them (the expiry sweep releases hundreds at once;
    Django's ``bulk_update``, a CASE per column, costs more to build than separate UPDATEs)."""
    if connection.vendor != "postgresql" or len(deliveries) < 2:
        db = _db()
        fields = [CallbackDelivery._meta.get_field(name) for name in _RELEASED_FIELDS]
        with db.cursor() as cursor:
            for delivery in deliveries:
                values = [
                    f.get_db_prep_save(getattr(delivery, f.attname), db)  # type: ignore[union-attr]
                    for f in fields
                ]
                cursor.execute(_CALLBACK_RELEASE, [*values, delivery.pk])
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
