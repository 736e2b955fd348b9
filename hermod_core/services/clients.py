"""Creating and changing clients and their keys; importing Hermod configuration files."""

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hermod_core.models import Client, Group
from hermod_core.models.clients import validate_client_id_free
from hermod_core.protocol.api_key import build_api_key_header
from hermod_core.protocol.client_config import DEFAULT_GROUP, ClientEntry, ConfigNote
from hermod_core.services.audit import Actor, audit_record
from hermod_core.services.credentials import api_key_generate, api_key_hash
from hermod_core.services.errors import ServiceError


class ClientError(ServiceError):
    """A client operation that cannot be done (unknown client, duplicate id …)."""


def _validate(client: Client) -> None:
    """Model validation (one path for the CLI, the importer and the console)."""
    try:
        client.full_clean(exclude=["key_hash", "group"], validate_unique=False)
    except ValidationError as exc:
        fields = ", ".join(sorted(exc.message_dict))
        raise ClientError(f"client {client.client_id!r}: invalid {fields}") from None


def _change(client: Client, changes: dict[str, object], validate: Callable[[Client], None]) -> None:
    """Validate ``changes`` on a copy of ``client`` (a refused change leaves the caller's client
    as it was), then apply and save them."""
    candidate = copy.copy(client)
    for name, value in changes.items():
        setattr(candidate, name, value)
    validate(candidate)
    for name, value in changes.items():
        setattr(client, name, value)
    client.save(update_fields=list(changes))


@dataclass(frozen=True)
class IssuedKey:
    """A key shown once, with the ready ``X-Api-Key`` header value."""

    client: Client
    key: str

    @property
    def api_key_header(self) -> str:
        return build_api_key_header(self.client.client_id, self.key)


def group_get_or_create(*, name: str, actor: Actor) -> Group:
    group, created = Group.objects.get_or_create(name=name)
    if created:
        audit_record(actor=actor, action="group.create", about=group)
    return group


@transaction.atomic
def client_create(
    *,
    client_id: str,
    group_name: str,
    callback_url: str = "",
    callback_basic_auth: str = "",
    callback_signing_secret: str = "",
    callback_attempts: int | None = None,
    callback_retry_delay: int | None = None,
    content_provider_url: str = "",
    content_provider_basic_auth: str = "",
    actor: Actor,
    create_group: bool = True,
) -> IssuedKey:
    """Create a client with a new random key; the key is returned once and stored hashed.

    The group is created with it unless ``create_group`` is false (the console, which chooses an
    existing group from a list: then an unknown name is refused).

    ``callback_attempts``/``callback_retry_delay`` (None: the server's defaults) are its own
    callback retry policy; ``content_provider_url`` resolves its content ids (docs/PROTOCOL.md §13).
    """
    try:
        validate_client_id_free(client_id)
    except ValidationError as exc:
        raise ClientError(exc.messages[0]) from None
    if create_group:
        group = group_get_or_create(name=group_name, actor=actor)
    else:
        found = Group.objects.filter(name=group_name).first()
        if found is None:
            raise ClientError(f"there is no group named {group_name!r}")
        group = found
    key = api_key_generate()
    client = Client(
        client_id=client_id,
        group=group,
        key_hash=api_key_hash(key),
        callback_url=callback_url,
        callback_basic_auth=callback_basic_auth,
        callback_signing_secret=callback_signing_secret,
        callback_attempts=callback_attempts,
        callback_retry_delay=callback_retry_delay,
        content_provider_url=content_provider_url,
        content_provider_basic_auth=content_provider_basic_auth,
        key_rotated_at=timezone.now(),
    )
    _validate(client)
    client.save()
    audit_record(
        actor=actor,
        action="client.create",
        about=client,
        details={"callback_url": callback_url, "content_provider_url": content_provider_url},
    )
    return IssuedKey(client=client, key=key)


# Settings ``client_settings_update`` may change; secrets are audited by name only.
CLIENT_SETTINGS = (
    "callback_url",
    "callback_basic_auth",
    "callback_signing_secret",
    "callback_attempts",
    "callback_retry_delay",
    "content_provider_url",
    "content_provider_basic_auth",
)
_SECRET_SETTINGS = frozenset(
    {"callback_basic_auth", "callback_signing_secret", "content_provider_basic_auth"}
)


@transaction.atomic
def client_settings_update(*, client: Client, changes: dict[str, object], actor: Actor) -> Client:
    """Change some of a client's callback and content-provider settings (names of
    ``CLIENT_SETTINGS``); validated as a whole: a refused change (``ClientError``) writes
    nothing and leaves ``client`` as it was. Audited without secret values.
    """
    unknown = set(changes) - set(CLIENT_SETTINGS)
    if unknown:
        raise ClientError(f"unknown client settings: {', '.join(sorted(unknown))}")
    _change(client, changes, _validate)
    audit_record(
        actor=actor,
        action="client.update_settings",
        about=client,
        details={
            name: ("changed" if name in _SECRET_SETTINGS else value)
            for name, value in changes.items()
        },
    )
    return client


# Longest grace period a rotation may give the replaced key.
MAX_KEY_GRACE = timedelta(days=30)


@transaction.atomic
def client_rotate_key(
    *, client: Client, actor: Actor, grace: timedelta = timedelta(0)
) -> IssuedKey:
    """Replace the key. With ``grace`` (0 by default, at most ``MAX_KEY_GRACE``) the old key keeps
    working that long beside the new one, so the application server can switch without an
    outage; only its keyed hash is kept, with its expiry. Without grace it stops at once (and
    any older key still in grace is dropped too: a rotation never extends a leaked key's life).
    """
    if grace < timedelta(0) or grace > MAX_KEY_GRACE:
        raise ClientError(
            f"the grace period must be between 0 and {MAX_KEY_GRACE.days} days, "
            f"not {int(grace.total_seconds())} seconds"
        )
    now = timezone.now()
    key = api_key_generate()
    if grace and client.key_hash:
        client.previous_key_hash = client.key_hash
        client.previous_key_expires_at = now + grace
    else:
        client.previous_key_hash = ""
        client.previous_key_expires_at = None
    client.key_hash = api_key_hash(key)
    client.key_rotated_at = now
    client.save(
        update_fields=[
            "key_hash",
            "key_rotated_at",
            "previous_key_hash",
            "previous_key_expires_at",
        ]
    )
    expires = client.previous_key_expires_at
    audit_record(
        actor=actor,
        action="client.rotate_key",
        about=client,
        details={
            "grace_seconds": int(grace.total_seconds()),
            "old_key_valid_until": expires.isoformat() if expires else None,
        },
    )
    return IssuedKey(client=client, key=key)


@transaction.atomic
def client_set_enabled(*, client: Client, enabled: bool, actor: Actor) -> Client:
    client.enabled = enabled
    client.save(update_fields=["enabled"])
    audit_record(
        actor=actor,
        action="client.enable" if enabled else "client.disable",
        about=client,
    )
    return client


@transaction.atomic
def client_delete(*, client: Client, actor: Actor) -> Client:
    """Delete a client: its key stops working, it leaves the lists, and its commands, callback
    deliveries and audit rows stay, still naming it (the row is kept, marked deleted, with
    neither key nor secrets). Refused (``ClientError``) while it has commands in progress,
    whose callbacks would go to a client nobody manages any more; cancel them or let them end.
    """
    locked = Client.objects.select_for_update().get(pk=client.pk)
    if locked.deleted_at is not None:
        raise ClientError(f"client {client.client_id!r} is deleted already")
    in_progress = locked.commands.in_progress().count()
    if in_progress:
        raise ClientError(
            f"client {client.client_id!r} has {in_progress} command(s) in progress; "
            "cancel them or wait until they end, then delete it"
        )
    now = timezone.now()
    changes = {
        "deleted_at": now,
        "enabled": False,
        "key_hash": "",
        "callback_basic_auth": "",
        "callback_signing_secret": "",
        "content_provider_basic_auth": "",
    }
    Client.objects.filter(pk=locked.pk).update(**changes)
    for name, value in changes.items():
        setattr(client, name, value)
    audit_record(
        actor=actor,
        action="client.delete",
        about=client,
        details={"commands_kept": locked.commands.count()},
    )
    return client


@dataclass(frozen=True)
class ImportResult:
    created: list[str]
    updated: list[str]
    notes: tuple[str, ...] = ()  # what the file said besides its clients, and what became of it


_IGNORED_HINTS = {
    "key-store": "serve TLS with HERMOD_TLS_P12_FILE and HERMOD_TLS_P12_PASSWORD",
    "keyStore": "serve TLS with HERMOD_TLS_P12_FILE and HERMOD_TLS_P12_PASSWORD",
    "certificate": "serve TLS with HERMOD_TLS_CERT_FILE and HERMOD_TLS_KEY_FILE",
    "url": "the database is DATABASE_URL",
    "port": "the port is PORT (or the image's published port)",
}


def config_notes_report(notes: list[ConfigNote]) -> tuple[str, ...]:
    """One sentence per note of an imported file, for the person who imported it: what was
    applied, which server setting it corresponds to, what was not used (never a secret value)."""
    lines = []
    for note in notes:
        if note.kind == "default":
            value = f" = {note.value}" if note.value is not None else ""
            clients = ", ".join(note.applied_to) or "no client (each sets its own)"
            lines.append(f"{note.path}{value}: applied to {clients}")
        elif note.kind == "public-url":
            current = settings.HERMOD_PUBLIC_URL
            if (note.value or "").rstrip("/") == current.rstrip("/"):
                lines.append(f"{note.path}: the same as HERMOD_PUBLIC_URL")
            else:
                lines.append(
                    f"{note.path} = {note.value}: not applied; this server's public URL is "
                    f"HERMOD_PUBLIC_URL ({current}), set in its environment"
                )
        elif note.kind == "hide-exceptions":
            state = "as" if note.value == "true" else "not applied:"
            lines.append(
                f"{note.path} = {note.value}: {state} this server, which never shows exception "
                "details to clients or devices outside DJANGO_DEBUG"
            )
        else:
            name = note.path.rsplit(".", 1)[-1].rsplit(" ", 1)[-1]
            hint = _IGNORED_HINTS.get(name, "not used by this server")
            lines.append(f"{note.path}: ignored ({hint})")
    return tuple(lines)


# The settings of a configuration-file entry (protocol.client_config.ClientEntry) and the client
# field each sets.
_IMPORTED_SETTINGS = (
    ("callback_url", "callback_url"),
    ("callback_basic_auth", "callback_basic_auth"),
    ("callback_signing_secret", "callback_signing_secret"),
    ("content_provider_url", "content_provider_url"),
    ("content_provider_basic_auth", "content_provider_basic_auth"),
    ("attempts", "callback_attempts"),
    ("retry_delay", "callback_retry_delay"),
)


@transaction.atomic
def clients_import(
    *, entries: list[ClientEntry], actor: Actor, notes: list[ConfigNote] | None = None
) -> ImportResult:
    """Create or update one client per entry, keyed by client id; all or nothing.

    A key in the file replaces the stored key (it is hashed on the way in); an entry without a key
    keeps the stored one. Likewise every member an entry does not mention (``None``: the signing
    secret, which exports leave out, the basic auth, the URL, the group) keeps its stored value,
    so an export imported again changes no client. A new client without a group joins
    ``default``. ``notes`` (from ``read_client_config``) come back as sentences in the result
    and in the audit row: nothing of the file is dropped silently.
    """
    created: list[str] = []
    updated: list[str] = []
    report = config_notes_report(notes or [])
    for entry in entries:
        client = Client.objects.select_for_update().filter(client_id=entry.client_id).first()
        if client is None:
            client = Client(client_id=entry.client_id)
            client.group = group_get_or_create(name=entry.group or DEFAULT_GROUP, actor=actor)
            created.append(entry.client_id)
        elif client.deleted_at is not None:
            raise ClientError(
                f"client {entry.client_id!r} was deleted; its commands keep the id, "
                "rename the entry"
            )
        else:
            updated.append(entry.client_id)
            if entry.group is not None:
                client.group = group_get_or_create(name=entry.group, actor=actor)
        for setting, field in _IMPORTED_SETTINGS:
            value = getattr(entry, setting)
            if value is not None:  # an entry that leaves a setting out keeps the client's
                setattr(client, field, value)
        if entry.key:
            new_hash = api_key_hash(entry.key)
            if new_hash != client.key_hash:
                client.key_hash = new_hash
                client.key_rotated_at = timezone.now()
        _validate(client)
        client.save()
    audit_record(
        actor=actor,
        action="clients.import",
        target_type="client",
        details={"created": created, "updated": updated, "notes": list(report)},
    )
    return ImportResult(created=created, updated=updated, notes=report)


def client_entry(client: Client, *, key: str = "") -> ClientEntry:
    """The configuration-file view of a client (the key only when it was just issued; the
    signing secret never: ``None``, which an import of the file reads as "keep")."""
    return ClientEntry(
        client_id=client.client_id,
        key=key,
        group=client.group.name,
        callback_url=client.callback_url,
        callback_basic_auth=client.callback_basic_auth,
        callback_signing_secret=None,
        content_provider_url=client.content_provider_url,
        content_provider_basic_auth=client.content_provider_basic_auth,
        attempts=client.callback_attempts,
        retry_delay=client.callback_retry_delay,
    )


# --- the console's callback settings ----------------------------------------------------------


def _validate_callback(client: Client) -> None:
    try:
        client.full_clean(exclude=["key_hash", "group"], validate_unique=False)
    except ValidationError as exc:
        raise ClientError("; ".join(exc.messages)) from None


@transaction.atomic
def client_callback_update(
    *,
    actor: Actor,
    client: Client,
    callback_url: str,
    callback_basic_auth: str | None,
    callback_signing_secret: str | None,
) -> Client:
    """Change where and how a client's callbacks go.

    ``None`` for the basic auth or the signing secret keeps the stored value (they are never
    shown back), ``""`` clears it. A refused change (``ClientError``) writes nothing and leaves
    ``client`` as it was. The audit row says which secrets changed, never their values.
    Callbacks already frozen keep their body; they go to the new URL from their next attempt.
    """
    changes: dict[str, object] = {"callback_url": callback_url.strip()}
    if callback_basic_auth is not None:
        if callback_basic_auth and ":" not in callback_basic_auth:
            raise ClientError("Basic auth must be written user:password.")
        changes["callback_basic_auth"] = callback_basic_auth
    if callback_signing_secret is not None:
        changes["callback_signing_secret"] = callback_signing_secret
    _change(client, changes, _validate_callback)
    changed = [name.removeprefix("callback_") for name in changes if name != "callback_url"]
    audit_record(
        actor=actor,
        action="client.update_callback",
        about=client,
        details={"callback_url": client.callback_url, "changed_secrets": changed},
    )
    return client
