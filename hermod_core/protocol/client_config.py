"""Hermod's client configuration format (docs/PROTOCOL.md §9), read and written as YAML.

Existing Hermod files list clients under ``allowed-clients:`` (kebab-case) or ``allowedClients:``
(camelCase), nested at any depth (``hermod: … allowedClients:``), or are the bare list the
``generateclient`` endpoint answers. Both spellings are read; the kebab-case spelling of the
``generateclient`` endpoint is written.

``read_client_config`` also reads what else such a file says: the file-wide callback retry policy
and content provider (``attempts``, ``retryDelay``, ``content-provider-url`` … next to the client
list) become each client's own unless the client sets them, and every other setting is returned
as a ``ConfigNote`` so that an import reports it instead of dropping it silently.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import yaml

from hermod_core.protocol.api_key import build_api_key_header

LIST_KEYS = ("allowed-clients", "allowedClients")
FIELDS = {
    "client_id": ("client-id", "clientId"),
    "key": ("key",),
    "group": ("group",),
    "callback_url": ("callback-url", "callbackUrl"),
    "callback_basic_auth": ("callback-basic-auth", "callbackBasicAuth"),
    "callback_signing_secret": ("callback-signing-secret", "callbackSigningSecret"),
    "content_provider_url": ("content-provider-url", "contentProviderUrl"),
    "content_provider_basic_auth": ("content-provider-basic-auth", "contentProviderBasicAuth"),
    "attempts": ("attempts",),
    "retry_delay": ("retry-delay", "retryDelay"),
}
# Members that may also be given once for the whole file (next to the client list).
FILE_DEFAULTS = ("attempts", "retry_delay", "content_provider_url", "content_provider_basic_auth")
INTEGER_BOUNDS = {"attempts": (1, 100), "retry_delay": (1, 86400)}
_SPELLINGS = {spelling: name for name, spellings in FIELDS.items() for spelling in spellings}
DEFAULT_GROUP = "default"


# Bounds that keep the work for any file small: a configuration file is a few kilobytes, a few
# levels deep, and has no reason to use YAML aliases (which can expand a short file into an
# exponential number of nodes, the "billion laughs").
MAX_CONFIG_CHARS = 1024 * 1024
MAX_CONFIG_DEPTH = 20
# libyaml's safe loader when PyYAML was built with it (several times faster), else PyYAML's.
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPENS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSES = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


class ClientConfigError(ValueError):
    """The file is not a usable client configuration; the message says where."""


def _where(event: yaml.Event) -> str:
    mark = event.start_mark
    return f"line {mark.line + 1}: " if mark is not None else ""


def _load(text: str) -> Any:
    """The YAML document, after a pass over its parser events refused aliases (``*name``) and
    collections nested deeper than ``MAX_CONFIG_DEPTH``: the parser is a state machine (no
    recursion) and stops at the first offending event, so no node is built or expanded for a
    bomb, and building the checked document is linear in its size."""
    if len(text) > MAX_CONFIG_CHARS:
        raise ClientConfigError(f"the file is larger than {MAX_CONFIG_CHARS // 1024} KiB")
    try:
        depth = 0
        for event in yaml.parse(text, Loader=_SAFE_LOADER):
            if isinstance(event, yaml.AliasEvent):
                raise ClientConfigError(f"{_where(event)}YAML aliases (*name) are not allowed")
            if isinstance(event, _OPENS):
                depth += 1
                if depth > MAX_CONFIG_DEPTH:
                    raise ClientConfigError(
                        f"{_where(event)}nested deeper than {MAX_CONFIG_DEPTH} levels"
                    )
            elif isinstance(event, _CLOSES):
                depth -= 1
        return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise ClientConfigError(f"not valid YAML ({exc.__class__.__name__})") from None


@dataclass(frozen=True)
class ClientEntry:
    """One client of a configuration file. ``None`` is a member the file does not mention: an
    import keeps the stored value (an export never writes the signing secret, and a hand-written
    file may leave out what it does not change); ``""`` is a member given empty. ``key`` is ``""``
    when absent: a key is never cleared."""

    client_id: str
    key: str
    group: str | None
    callback_url: str | None
    callback_basic_auth: str | None
    callback_signing_secret: str | None
    content_provider_url: str | None = None
    content_provider_basic_auth: str | None = None
    attempts: int | None = None  # callback attempts of this client (docs/PROTOCOL.md §8)
    retry_delay: int | None = None  # seconds between its callback attempts


@dataclass(frozen=True)
class ConfigNote:
    """A setting of the file that is not a client member: ``kind`` says what became of it.

    ``public-url`` and ``hide-exceptions`` are server settings (compared by the import with the
    running server's), ``default`` a file-wide client setting applied to ``applied_to`` clients,
    ``ignored`` anything else. ``value`` is given only for settings that are never secret.
    """

    path: str
    kind: str
    value: str | None = None
    applied_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClientConfig:
    entries: list[ClientEntry]
    notes: list[ConfigNote] = field(default_factory=list)


CLIENT_ID_MAX = 100
CLIENT_ID_RULE = "Up to 100 characters, no colon, no surrounding spaces."


def is_client_id(value: str) -> bool:
    """The client-id rule, the one home of it (model field, console, configuration files,
    ``hermod_client``, ``generateclient``): the X-Api-Key header joins the id and the key with a
    colon (docs/PROTOCOL.md §3), so an id never holds one, and it fits the column."""
    return (
        bool(value) and len(value) <= CLIENT_ID_MAX and ":" not in value and value == value.strip()
    )


_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_[]:")


def is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a plausible host name.

    Single-label hosts (``receiver``, ``idm``) are allowed: callbacks often go to a service name
    inside a private network, which Django's URLValidator would refuse.
    """
    if any(ch.isspace() for ch in value) or len(value) > 500:
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    host = parts.hostname or ""
    return parts.scheme in {"http", "https"} and bool(host) and set(host) <= _HOST_CHARS


def _is_bare_list(node: Any) -> bool:
    """The ``generateclient`` snippet: a list of client mappings at the top of the document."""
    return isinstance(node, list) and any(
        isinstance(item, dict) and ("client-id" in item or "clientId" in item) for item in node
    )


def _lists(node: Any) -> Iterator[list[Any]]:
    if _is_bare_list(node):
        yield node
        return
    if isinstance(node, dict):
        for name, value in node.items():
            if name in LIST_KEYS:
                if not isinstance(value, list):
                    raise ClientConfigError(f"{name} must be a list of clients")
                yield value
            else:
                yield from _lists(value)
    elif isinstance(node, list):
        for item in node:
            yield from _lists(item)


# Server settings of the real product's files that an import reports with their value.
_PUBLIC_URL = ("public-url", "publicUrl")
_HIDE_EXCEPTIONS = ("hide-exceptions", "hideExceptions")


def _settings(node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every (path, name, value) of the document outside the client lists: the leaves, and
    mappings that hold no client list as a whole."""
    if not isinstance(node, dict):
        return
    for name, value in node.items():
        name = str(name)
        where = f"{path}.{name}" if path else name
        if name in LIST_KEYS:
            continue
        if isinstance(value, dict):
            yield from _settings(value, where)
        elif isinstance(value, list) and any(True for _ in _lists(value)):
            continue
        else:
            yield where, name, value


def _field(raw: dict[str, Any], name: str, position: str) -> str | None:
    """The member in either spelling; ``None`` when the entry does not mention it (an empty
    ``callback-url:`` mentions it: ``""``)."""
    for spelling in FIELDS[name]:
        if spelling in raw:
            value = raw[spelling]
            if value is None:
                return ""
            if not isinstance(value, str | int):
                raise ClientConfigError(f"{position}: {spelling} must be a string")
            return str(value).strip()
    return None


def _integer(raw: dict[str, Any], name: str, position: str) -> int | None:
    for spelling in FIELDS[name]:
        if spelling in raw and raw[spelling] is not None:
            value = raw[spelling]
            low, high = INTEGER_BOUNDS[name]
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise ClientConfigError(f"{position}: {spelling} must be a whole number")
            try:
                number = int(str(value).strip())
            except ValueError:
                raise ClientConfigError(f"{position}: {spelling} must be a whole number") from None
            if not low <= number <= high:
                raise ClientConfigError(f"{position}: {spelling} must be {low} to {high}")
            return number
    return None


def _checked_urls(entry: ClientEntry, position: str) -> None:
    if entry.callback_url and not is_http_url(entry.callback_url):
        raise ClientConfigError(f"{position}: callback-url is not an http(s) URL")
    if entry.callback_basic_auth and ":" not in entry.callback_basic_auth:
        raise ClientConfigError(f"{position}: callback-basic-auth must be user:password")
    if entry.content_provider_url and not is_http_url(entry.content_provider_url):
        raise ClientConfigError(f"{position}: content-provider-url is not an http(s) URL")
    if entry.content_provider_basic_auth and ":" not in entry.content_provider_basic_auth:
        raise ClientConfigError(f"{position}: content-provider-basic-auth must be user:password")


def _entry(raw: Any, position: str) -> ClientEntry:
    if not isinstance(raw, dict):
        raise ClientConfigError(f"{position}: expected a mapping with client-id")
    entry = ClientEntry(
        client_id=_field(raw, "client_id", position) or "",
        key=_field(raw, "key", position) or "",
        group=_field(raw, "group", position) or None,
        callback_url=_field(raw, "callback_url", position),
        callback_basic_auth=_field(raw, "callback_basic_auth", position),
        callback_signing_secret=_field(raw, "callback_signing_secret", position),
        content_provider_url=_field(raw, "content_provider_url", position),
        content_provider_basic_auth=_field(raw, "content_provider_basic_auth", position),
        attempts=_integer(raw, "attempts", position),
        retry_delay=_integer(raw, "retry_delay", position),
    )
    if not is_client_id(entry.client_id):
        raise ClientConfigError(f"{position}: client-id is missing or invalid")
    if entry.group is not None and len(entry.group) > 100:
        raise ClientConfigError(f"{position}: group is longer than 100 characters")
    _checked_urls(entry, position)
    return entry


def _unknown_members(raw: Any, client_id: str) -> Iterator[ConfigNote]:
    if isinstance(raw, dict):
        for name in raw:
            if str(name) not in _SPELLINGS:
                yield ConfigNote(path=f"client {client_id}: {name}", kind="ignored")


def _file_defaults(
    document: Any, entries: list[ClientEntry]
) -> tuple[list[ClientEntry], list[ConfigNote]]:
    """Apply the file-wide client settings to the entries without their own; note the rest."""
    notes: list[ConfigNote] = []
    defaults: dict[str, Any] = {}
    for path, name, value in _settings(document):
        member = _SPELLINGS.get(name)
        if member in FILE_DEFAULTS and member not in defaults:
            holder = {name: value}
            if member in INTEGER_BOUNDS:
                defaults[member] = _integer(holder, member, path)
            else:
                defaults[member] = _field(holder, member, path)
            secret = member == "content_provider_basic_auth"
            applied_to = tuple(e.client_id for e in entries if getattr(e, member) is None)
            shown = None if secret else str(defaults[member])
            notes.append(ConfigNote(path, "default", shown, applied_to))
        elif name in _PUBLIC_URL:
            notes.append(ConfigNote(path, "public-url", str(value)))
        elif name in _HIDE_EXCEPTIONS:
            notes.append(ConfigNote(path, "hide-exceptions", str(value).lower()))
        else:
            notes.append(ConfigNote(path, "ignored"))
    applied = []
    for entry in entries:
        missing = {k: v for k, v in defaults.items() if getattr(entry, k) is None}
        applied.append(replace(entry, **missing))
        _checked_urls(applied[-1], f"client {entry.client_id}")
    return applied, notes


def read_client_config(text: str) -> ClientConfig:
    """Every client entry of a Hermod configuration file, in file order, with the file-wide
    client settings applied, and a note for every other setting of the file."""
    document = _load(text)
    entries: list[ClientEntry] = []
    notes: list[ConfigNote] = []
    seen: set[str] = set()
    for clients in _lists(document):
        for index, raw in enumerate(clients):
            entry = _entry(raw, f"client {len(entries) + 1} (entry {index + 1})")
            if entry.client_id in seen:
                raise ClientConfigError(f"client-id {entry.client_id!r} appears twice")
            seen.add(entry.client_id)
            entries.append(entry)
            notes.extend(_unknown_members(raw, entry.client_id))
    if not entries and not any(True for _ in _lists(document)):
        raise ClientConfigError("no allowed-clients or allowedClients list found")
    entries, file_notes = _file_defaults(document, entries)
    return ClientConfig(entries=entries, notes=file_notes + notes)


def parse_client_config(text: str) -> list[ClientEntry]:
    """Every client entry of a Hermod configuration file (``read_client_config`` without the
    notes)."""
    return read_client_config(text).entries


def _entry_lines(entry: ClientEntry, *, with_key: bool) -> list[str]:
    def scalar(value: str) -> str:
        return yaml.safe_dump(value, default_style=None).strip().removesuffix("\n...")

    lines = [f"- client-id: {scalar(entry.client_id)}"]
    if with_key and entry.key:
        lines.append(f"  key: {scalar(entry.key)}")
    lines.append(f"  group: {scalar(entry.group or DEFAULT_GROUP)}")
    if entry.callback_basic_auth:
        lines.append(f"  callback-basic-auth: {scalar(entry.callback_basic_auth)}")
    if entry.callback_url:
        lines.append(f"  callback-url: {scalar(entry.callback_url)}")
    if entry.attempts is not None:
        lines.append(f"  attempts: {entry.attempts}")
    if entry.retry_delay is not None:
        lines.append(f"  retry-delay: {entry.retry_delay}")
    if entry.content_provider_url:
        lines.append(f"  content-provider-url: {scalar(entry.content_provider_url)}")
    if entry.content_provider_basic_auth:
        lines.append(f"  content-provider-basic-auth: {scalar(entry.content_provider_basic_auth)}")
    return lines


def render_client_snippet(entry: ClientEntry, api_key_header: str) -> str:
    """The ``generateclient`` answer: the X-Api-Key comment and one kebab-case entry."""
    return "\n".join([f"# X-Api-Key: {api_key_header}", *_entry_lines(entry, with_key=True)]) + "\n"


def render_generated_client(client_id: str, key: str, *, callback_url: str = "") -> str:
    """The ``generateclient`` snippet of a client not stored anywhere (docs/PROTOCOL.md §9): the
    fresh ``key`` in the default group, for the API endpoint and the console alike."""
    entry = ClientEntry(
        client_id=client_id,
        key=key,
        group=DEFAULT_GROUP,
        callback_url=callback_url,
        callback_basic_auth="",
        callback_signing_secret="",
    )
    return render_client_snippet(entry, build_api_key_header(client_id, key))


def render_client_config(entries: list[ClientEntry]) -> str:
    """An ``allowed-clients:`` document of every entry, keys omitted (export)."""
    lines = ["allowed-clients:"]
    for entry in entries:
        lines.extend(f"  {line}" for line in _entry_lines(entry, with_key=False))
    return "\n".join(lines) + "\n"
