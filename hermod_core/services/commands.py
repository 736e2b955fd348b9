"""Creating, ending and cancelling commands (docs/PROTOCOL.md §4, §7, §8)."""

import base64
import random
import secrets
import uuid
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hermod_core import sql
from hermod_core.crypto.certs import parse_certificate_der
from hermod_core.crypto.jwk import public_key_from_jwk, public_keys_equal
from hermod_core.lifecycle import (
    CaStep,
    DestinationState,
    State,
    command_sources,
    destination_end_state,
    destination_sources,
)
from hermod_core.models import (
    CallbackDelivery,
    Client,
    Command,
    ContentResolution,
    DeliveryState,
    InProgressTally,
    Mailbox,
    MailboxKind,
    Message,
    MessageState,
    Profile,
    ProfileState,
)
from hermod_core.protocol.commands import (
    SMARTCARD_TYPES,
    Address,
    CommandRequest,
    CommandType,
    admin_keys_removed,
    parse_command_request,
)
from hermod_core.protocol.results import result_body
from hermod_core.selectors.commands import command_result_view, commands_in_progress
from hermod_core.selectors.profiles import (
    ProfileBox,
    profile_active_in_group,
    profile_of_smartcard,
    profiles_of_user,
)
from hermod_core.services.audit import Actor, audit_record
from hermod_core.services.ca_challenges import (
    MintedChallenge,
    ca_challenges_mint,
    ca_challenges_record,
)
from hermod_core.services.credentials import (
    MESSAGE_TOKEN,
    message_token_generate,
    seal,
    token_hash,
)
from hermod_core.services.dispatch import enqueue_callbacks, enqueue_content_resolution
from hermod_core.services.errors import ServiceError
from hermod_core.services.push import push_forget, push_plan, push_queue


class CommandError(Exception):
    """A command that cannot be created or changed; maps to an HTTP status in the API."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class _Target:
    to: str
    box_id: uuid.UUID | None  # None: a new temporary box
    profile: Profile | None


def _profile_in_group(client: Client, profile_id: uuid.UUID, field: str) -> ProfileBox:
    found = profile_active_in_group(group_id=client.group_id, profile_id=profile_id)
    if found is None:
        raise CommandError(
            404, "PROFILE_NOT_FOUND", f"No profile {profile_id} in this group.", field
        )
    return found


def _with_smartcard_profile(client: Client, request: CommandRequest) -> CommandRequest:
    """A request that names its profile only by ``smartcardid`` (certificate, startpinreset,
    endpinreset, delete), with that card's profile as its ``profile_id``; 404 naming the field
    when the group has no active profile of that card (docs/PROTOCOL.md §5.2, §5.4)."""
    if (
        request.profile_id is not None
        or not request.smartcard_id
        or request.command_type not in SMARTCARD_TYPES
    ):
        return request
    found = profile_of_smartcard(group_id=client.group_id, smartcard_id=request.smartcard_id)
    if found is None:
        raise CommandError(
            404,
            "SMARTCARD_NOT_FOUND",
            f"No profile of smart card {request.smartcard_id!r} in this group.",
            request.smartcard_field,
        )
    return replace(request, profile_id=found[0].pk)


def _resolve(client: Client, request: CommandRequest) -> list[_Target]:
    """Every box the command goes to, inside the client's group only (docs/PROTOCOL.md §4.1)."""
    addresses = request.header.to or (
        Address(str(request.profile_id), profile_id=request.profile_id),
    )
    targets: list[_Target] = []
    seen: set[uuid.UUID] = set()
    for index, address in enumerate(addresses):
        field = (
            f"commandHeader.to[{index}]"
            if request.header.to_given
            else (f"{request.endpoint.body_key}.profileid")
        )
        if address.is_tmp:
            profile = None
            if request.profile_id is not None:
                profile, _ = _profile_in_group(client, request.profile_id, field)
            targets.append(_Target(address.raw, None, profile))
            continue
        if address.userid is not None:
            found = profiles_of_user(group_id=client.group_id, userid=address.userid)
            if request.profile_id is not None:
                found = [(p, box) for p, box in found if p.pk == request.profile_id]
            if not found:
                raise CommandError(
                    404, "ADDRESS_NOT_FOUND", f"{address.raw} has no active profile.", field
                )
        else:
            assert address.profile_id is not None
            found = [_profile_in_group(client, address.profile_id, field)]
        for profile, box_id in found:
            if box_id not in seen:
                seen.add(box_id)
                targets.append(_Target(address.raw, box_id, profile))
    return targets


def _certificate_profile(request: CommandRequest, targets: list[_Target]) -> Profile:
    """The profile whose keys a certificate command's certificates must match (§5.2)."""
    profiles = {t.profile.pk: t.profile for t in targets if t.profile is not None}
    if request.profile_id is not None and request.profile_id in profiles:
        return profiles[request.profile_id]
    if len(profiles) != 1:
        raise CommandError(
            400,
            "MISSING_FIELD",
            "certCommand.profileid is required unless commandHeader.to names exactly one profile.",
            "certCommand.profileid",
        )
    return next(iter(profiles.values()))


def _check_certificates(request: CommandRequest, profile: Profile) -> None:
    keys = {key.keyid: key for key in profile.keys.all()}
    for index, item in enumerate(request.certificates):
        field = f"certCommand.certificates[{index}]"
        key = keys.get(item.keyid)
        if key is None:
            raise CommandError(
                400, "UNKNOWN_KEY", f"The profile has no key {item.keyid!r}.", f"{field}.keyid"
            )
        certificate = parse_certificate_der(item.der)
        if not public_keys_equal(certificate.public_key, public_key_from_jwk(key.jwk)):
            raise CommandError(
                400,
                "CERTIFICATE_KEY_MISMATCH",
                f"The certificate's public key is not the public key of key {item.keyid!r}.",
                f"{field}.data",
            )


def _with_challenge(request: CommandRequest) -> dict[str, Any]:
    """An authCommand without tbs gets a server-generated 32-byte challenge (decided, §5.3)."""
    body = dict(request.body)
    params = dict(body.get("params") or {})
    if request.command_type is CommandType.AUTH and not params.get("tbs"):
        params["tbs"] = [
            {
                "key": "challenge",
                "description": "Authentication challenge",
                "content_type": "application/octet-stream",
                "content_encoding": "base64",
                "data": base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
                "visible": False,
            }
        ]
        body["params"] = params
    return body


def _tally_slot() -> int:
    """One of a client's tally slots (models.commands.InProgressTally), at random."""
    return random.randrange(InProgressTally.SLOTS)


def _tally(client_id: int, change: int) -> None:
    """Add to one of the client's tally slots."""
    sql.tally_add(client_id=client_id, slot=_tally_slot(), change=change)


def _untally(command_ids: list[int], loaded: list[Command]) -> None:
    """Take commands that just ended off their clients' tallies. The callback release has just
    loaded them (with their client ids): only a command it did not load has its client read."""
    known = {command.pk: command.client_id for command in loaded}
    ended = Counter(known[pk] for pk in command_ids if pk in known)
    ended.update(sql.clients_of_commands([pk for pk in command_ids if pk not in known]))
    for client_id, count in ended.items():
        _tally(client_id, -count)


def _check_content_provider(client: Client, request: CommandRequest) -> None:
    """Content ids need the client's content provider (docs/PROTOCOL.md §13): 400 without one."""
    if request.content and not client.content_provider_url:
        field = f"{request.endpoint.body_key}.{request.content[0].field}"
        raise CommandError(
            400,
            "NO_CONTENT_PROVIDER",
            "The client has no content provider (content-provider-url) to resolve this content id.",
            field,
        )


def _content_job(command: Command, request: CommandRequest) -> None:
    """The content-provider job (the outbox row), handed to the workers after commit."""
    if request.content:
        ContentResolution.objects.create(
            command=command,
            max_attempts=settings.HERMOD_CONTENT_ATTEMPTS,
            next_attempt_at=timezone.now(),
        )
        enqueue_content_resolution(command.pk)


def _check_capacity(client: Client) -> None:
    limit = settings.HERMOD_MAX_IN_PROGRESS
    in_progress = commands_in_progress(client_id=client.pk)
    if in_progress >= limit:
        raise CommandError(
            429,
            "TOO_MANY_IN_PROGRESS",
            f"The client already has {in_progress} commands in progress.",
        )


@dataclass(frozen=True)
class CreatedCommand:
    """A command just created and its messages as created (``None`` when they changed since, as
    a delete that ended at once: read them again). The result body built from it needs no query
    to read the messages back."""

    command: Command
    messages: list[Message] | None


def command_create(*, client: Client, request: CommandRequest) -> Command:
    """``command_create_with_messages`` for callers that need only the command."""
    return command_create_with_messages(client=client, request=request).command


def command_create_with_messages(*, client: Client, request: CommandRequest) -> CreatedCommand:
    """Create a command, one message per destination and its callback record, atomically.

    Either all rows exist afterwards or none (docs/PROTOCOL.md §4.2): the command, its messages,
    its callback row and its tally are one statement (``sql.command_insert``), in a transaction
    with the rows some commands bring too (temporary boxes, one-time challenges, a content job,
    push rows, an immediate delete). A delete with
    ``confirmed: "false"`` ends at once: the profile and its box are deleted, nothing is sent.
    A command with content ids (§13) also gets its content-provider job, and its messages stay
    hidden from devices until a worker resolved them (``content_ready``).
    """
    _check_capacity(client)
    _check_content_provider(client, request)
    request = _with_smartcard_profile(client, request)
    targets = _resolve(client, request)
    body = _with_challenge(request)
    minted: list[MintedChallenge] = []
    if request.command_type is CommandType.PROV:
        # One-time SCEP challenges in the CSR templates, never the CA's own password (§10).
        body, minted = ca_challenges_mint(group_id=client.group_id, body=body)
    if request.command_type is CommandType.CERT:
        _check_certificates(request, _certificate_profile(request, targets))
    now = timezone.now()
    header = {
        "to": [a.raw for a in request.header.to],
        "lifespan": request.header.lifespan,
        "timeout": request.header.timeout,
    }
    is_prov = request.command_type is CommandType.PROV
    single_profile = {t.profile.pk for t in targets if t.profile} if not is_prov else set()
    command = Command(
        client=client,
        group_id=client.group_id,
        command_type=request.command_type.value,
        external_id=request.header.external_id or "",
        lifespan=request.header.lifespan,
        timeout=request.header.timeout,
        expires_at=now + timedelta(seconds=request.header.timeout),
        header=header,
        body=body,
        profile_id=next(iter(single_profile)) if len(single_profile) == 1 else None,
        assigned_profile_id=uuid.uuid4() if is_prov else None,
        assigned_box_id=uuid.uuid4() if is_prov else None,
        content_ready=not request.content,
    )
    immediate_delete = request.command_type is CommandType.DELETE and not request.confirmed
    message_expiry = now + timedelta(seconds=request.header.lifespan)
    # An @tmp destination gets a new temporary box (its id is known before it is written).
    boxes = [
        Mailbox(
            group_id=client.group_id,
            kind=MailboxKind.TEMPORARY,
            expires_at=now + timedelta(seconds=request.header.timeout),
        )
        for target in targets
        if target.box_id is None
    ]
    new_boxes = iter(boxes)
    messages = []
    for target in targets:
        token = message_token_generate()
        message = Message(
            command=command,
            mailbox_id=target.box_id or next(new_boxes).pk,
            profile=target.profile,
            to=target.to,
            token_hash=token_hash(token),
            token_sealed=seal(MESSAGE_TOKEN, token),
            expires_at=message_expiry,
            state=MessageState.WITHDRAWN if immediate_delete else MessageState.WAITING,
        )
        messages.append(message)
    callback = CallbackDelivery(
        command=command,
        client=client,
        path=request.endpoint.callback_path,
        max_attempts=client.callback_attempts or settings.HERMOD_CALLBACK_ATTEMPTS,
    )
    # Push rows go with their messages; only permanent boxes are woken.
    pushes = push_plan(
        group_id=client.group_id,
        messages=[m for m, t in zip(messages, targets, strict=True) if t.box_id is not None],
        ready=command.content_ready,
    )
    # One statement is atomic by itself: a transaction (two more round trips) only when other
    # rows go with it.
    alone = not (boxes or minted or request.content or pushes or immediate_delete)
    with nullcontext() if alone else transaction.atomic():
        Mailbox.objects.bulk_create(boxes)
        sql.command_insert(
            command=command, messages=messages, callback=callback, tally_slot=_tally_slot()
        )
        ca_challenges_record(command=command, minted=minted)
        _content_job(command, request)
        push_queue(rows=pushes)
        if immediate_delete:
            for target in targets:
                if target.profile is not None:
                    profile_delete(profile=target.profile)
            command_transition(command_id=command.pk, to=State.COMPLETED)
            command.refresh_from_db()
            return CreatedCommand(command=command, messages=None)
    return CreatedCommand(command=command, messages=messages)


def profile_delete(*, profile: Profile) -> None:
    """Mark a profile deleted and close its permanent box (nothing opens it again); its push
    registration goes too (nothing is left to wake it for)."""
    now = timezone.now()
    Profile.objects.filter(pk=profile.pk).update(state=ProfileState.DELETED, deleted_at=now)
    Mailbox.objects.filter(profile=profile, closed_at__isnull=True).update(closed_at=now)
    push_forget(profile_id=profile.pk)


def command_transition(
    *,
    command_id: int,
    to: State,
    failure_code: str = "",
    failure_reason: str = "",
    answer: dict[str, Any] | None = None,
    profile_id: uuid.UUID | None = None,
    signature: dict[str, Any] | None = None,
) -> bool:
    """Move one command to a final state; True if this call made the change."""
    return (
        commands_transition(
            command_ids=[command_id],
            to=to,
            failure_code=failure_code,
            failure_reason=failure_reason,
            answer=answer,
            profile_id=profile_id,
            signature=signature,
        )
        == 1
    )


@transaction.atomic(savepoint=False)
def commands_transition(
    *,
    command_ids: list[int],
    to: State,
    failure_code: str = "",
    failure_reason: str = "",
    answer: dict[str, Any] | None = None,
    profile_id: uuid.UUID | None = None,
    signature: dict[str, Any] | None = None,
) -> int:
    """Move commands to a final state; returns how many this call changed. The only code that
    changes a command's state.

    A conditional UPDATE (``WHERE state IN <allowed sources>``): of two racing callers — an answer
    and the expiry sweep, two workers — exactly one updates a row and wins; the other sees 0 rows
    and does nothing, so a final state never changes and the callback is written once. The same
    UPDATE writes what the ending brings (the answer, a provisioned profile's id, an accepted
    signature's record), so they appear only with the final state. The
    winners, in the same transaction, end their still-open destinations, freeze their callback
    bodies and forget their smart-card admin keys. The expiry sweep passes a whole batch: a few
    statements instead of a few per command.
    """
    if not command_ids:
        return 0
    now = timezone.now()
    changes: dict[str, Any] = {
        "state": to.value,
        "finished_at": now,
        "failure_code": failure_code,
        "failure_reason": failure_reason,
    }
    if answer is not None:
        changes["answer"] = answer
    if profile_id is not None:
        changes["profile_id"] = profile_id
    if signature is not None:
        changes["signature"] = signature
    sources = [s.value for s in command_sources(to)]
    # The ORM's filter(pk__in=…, state__in=sources).update(**changes), hand-written: the
    # statement of every command's end (hermod_core.sql).
    won = sql.commands_end(command_ids=command_ids, sources=sources, changes=changes)
    if won == 0:
        return 0
    winners = command_ids
    if won < len(command_ids):
        # Some were ended by someone else meanwhile: ours carry this call's exact finish time.
        winners = list(
            Command.objects.filter(pk__in=command_ids, state=to.value, finished_at=now).values_list(
                "pk", flat=True
            )
        )
    loaded = _after_transition(winners, to)
    _untally(winners, loaded)
    return won


def messages_transition(*, where: Q, to: DestinationState, **changes: Any) -> int:
    """Move the messages matched by ``where`` to ``to`` (with ``changes``, such as a timestamp);
    returns how many moved. The only code that changes a message's state, with its two tuned
    forms below for the statements every answer makes: ``message_answer_claim`` and
    ``messages_end_with_commands``.

    One conditional UPDATE restricted to the states ``to`` may follow (lifecycle's destination
    table): of two racing callers only the one whose UPDATE matched a row moved it, the other's
    count says it lost, so a destination is answered, withdrawn or expired once.
    """
    sources = [s.value for s in destination_sources(to)]
    return Message.objects.filter(where, state__in=sources).update(state=to.value, **changes)


def message_answer_claim(*, mid: uuid.UUID, now: datetime) -> bool:
    """``messages_transition(where=visible_messages(now) & Q(pk=mid), to=ANSWERED,
    answered_at=now) == 1``: the claim of a device's answer to its message, as one hand-written
    conditional UPDATE (``hermod_core.sql.message_claim_answer``, every answer makes it). Of two
    answers to the same message only the one whose UPDATE matched the row moved it."""
    return sql.message_claim_answer(mid=mid, now=now) == 1


def messages_end_with_commands(*, command_ids: list[int], to: DestinationState) -> int:
    """``messages_transition(where=Q(command_id__in=command_ids), to=to)``: the destinations
    still open when their commands end, as one hand-written conditional UPDATE
    (``hermod_core.sql.messages_end``, every command's end makes it)."""
    sources = [s.value for s in destination_sources(to)]
    return sql.messages_end(command_ids=command_ids, sources=sources, to=to.value)


def _after_transition(command_ids: list[int], to: State) -> list[Command]:
    """What every final state brings, in the same transaction: open destinations end, callbacks
    are released, admin keys are forgotten. Returns the commands the release read."""
    messages_end_with_commands(command_ids=command_ids, to=destination_end_state(to))
    loaded = callbacks_release(command_ids=command_ids)
    _forget_admin_keys(command_ids, loaded)
    return loaded


def _forget_admin_keys(command_ids: list[int], loaded: list[Command]) -> None:
    """Remove the smart-card admin keys (``vscinfo.adminkey``/``oldadminkey``, ``newadminkey``)
    from the bodies of commands that just ended: the device needed them while the command was in
    progress; once it is final nobody may read them back.

    The callback release has just loaded these commands with their bodies, so a command without
    admin keys costs no statement and one with them a single UPDATE. Only a command without a
    waiting callback row (none written by this version) has its body read here.
    """
    commands = list(loaded)
    unread = set(command_ids) - {command.pk for command in loaded}
    if unread:
        commands.extend(Command.objects.filter(pk__in=unread).only("pk", "body"))
    for command in commands:
        body = admin_keys_removed(command.body)
        if body is not None:
            Command.objects.filter(pk=command.pk).update(body=body)
            command.body = body


def callback_release(*, command_id: int) -> None:
    callbacks_release(command_ids=[command_id])


def callbacks_release(*, command_ids: list[int]) -> list[Command]:
    """Freeze each command's result body into its callback row and schedule the delivery;
    returns the commands it read (with their bodies).

    A command whose CA step is still running keeps its callback back (the CA step releases it);
    a client without callback URL polls, and its row is kept as SKIPPED, the record that nothing
    was sent.
    """
    deliveries = sql.callbacks_waiting(command_ids)
    now = timezone.now()
    released = []
    commands = []
    for delivery in deliveries:
        command = delivery.command
        assert command is not None  # selected by command
        commands.append(command)
        if command.ca_state == CaStep.PENDING:
            continue
        released.append(delivery)
    messages: dict[int, list[Message]] = {}
    for message in sql.messages_of_commands([d.command_id for d in released if d.command_id]):
        messages.setdefault(message.command_id, []).append(message)
    for delivery in released:
        command = delivery.command
        assert command is not None
        view = command_result_view(command, messages=messages.get(command.pk, []))
        delivery.body = result_body(view)
        if delivery.client.callback_url:
            delivery.state, delivery.next_attempt_at = DeliveryState.PENDING, now
        else:
            delivery.state = DeliveryState.SKIPPED
    # One plain UPDATE for one row; one statement for a batch (hermod_core.sql).
    sql.callbacks_release(released)
    enqueue_callbacks([d.pk for d in released if d.state == DeliveryState.PENDING])
    return commands


def command_cancel(*, command: Command) -> bool:
    """Cancel a command still in progress (docs/PROTOCOL.md §2, decided); False if it was final."""
    return command_transition(
        command_id=command.pk,
        to=State.CANCELLED,
        failure_code="CANCELLED",
        failure_reason="Cancelled by the client.",
    )


# --- from the console: a command issued or cancelled by a person ------------------------------


@transaction.atomic
def command_issue(
    *, actor: Actor, client: Client, endpoint_name: str, body: dict[str, Any]
) -> Command:
    """Create a command on behalf of ``client`` exactly as the command API would, audited as
    issued by ``actor``.

    The body goes through ``parse_command_request`` and ``command_create`` (so every rule of
    docs/PROTOCOL.md §4–§5, the address resolution inside the client's group and the in-progress
    limit apply); its callbacks go to that client. Raises ``ProtocolError`` / ``CommandError``
    like the API, or ``ServiceError`` for a disabled client.
    """
    if not client.enabled:
        raise ServiceError(f"Client {client.client_id} is disabled.")
    request = parse_command_request(endpoint_name, body)
    command = command_create(client=client, request=request)
    audit_record(
        actor=actor,
        action="command.issue",
        about=command,
        details={
            "type": command.command_type,
            "client": client.client_id,
            "externalId": command.external_id,
        },
    )
    return command


@transaction.atomic
def command_cancel_by(*, actor: Actor, command: Command) -> bool:
    """Cancel a command still in progress in ``actor``'s name; False (and nothing changes) if it
    was already final.

    Goes through ``command_transition`` like every state change, so the client gets its
    CANCELLED callback exactly once.
    """
    won = command_transition(
        command_id=command.pk,
        to=State.CANCELLED,
        failure_code="CANCELLED",
        failure_reason=f"Cancelled in the console by {actor.name}.",
    )
    audit_record(
        actor=actor,
        action="command.cancel",
        about=command,
        details={"cancelled": won},
    )
    return won
