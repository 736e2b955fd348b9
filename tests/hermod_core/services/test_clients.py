import dataclasses
import hmac

import pytest

from hermod_core.crypto import tokens
from hermod_core.models import AuditEvent, Client, Group
from hermod_core.protocol.client_config import parse_client_config
from hermod_core.services import credentials
from hermod_core.services.audit import Actor
from hermod_core.services.clients import (
    ClientError,
    client_create,
    client_rotate_key,
    clients_import,
)
from tests.seeds import CAMEL, KEBAB

pytestmark = pytest.mark.django_db


def test_a_new_key_is_64_lowercase_hex_and_stored_only_as_a_keyed_hash() -> None:
    issued = client_create(client_id="idm", group_name="g", actor=Actor.system("test"))
    assert len(issued.key) == 64
    assert issued.key == issued.key.lower()
    int(issued.key, 16)
    stored = Client.objects.get(client_id="idm")
    assert issued.key not in stored.key_hash
    assert stored.key_hash == credentials.api_key_hash(issued.key)
    assert credentials.api_key_matches(issued.key, stored.key_hash)
    other = issued.key[:-1] + ("1" if issued.key[-1] == "0" else "0")
    assert not credentials.api_key_matches(other, stored.key_hash)


def test_key_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)  # the one comparison helper
    assert not credentials.api_key_matches("k", None)
    assert credentials.api_key_matches("k", credentials.api_key_hash("k"))
    assert len(calls) == 2  # the unknown client is compared too, against a dummy digest


def test_the_hash_depends_on_the_server_secret(settings) -> None:
    first = credentials.api_key_hash("k")
    settings.HERMOD_KEY_HASH_SECRET = "another secret"
    assert credentials.api_key_hash("k") != first


def test_it_refuses_a_second_client_with_the_same_id() -> None:
    client_create(client_id="idm", group_name="g", actor=Actor.system("test"))
    with pytest.raises(ClientError, match="already exists"):
        client_create(client_id="idm", group_name="g", actor=Actor.system("test"))


def test_rotation_invalidates_the_old_key() -> None:
    issued = client_create(client_id="idm", group_name="g", actor=Actor.system("test"))
    rotated = client_rotate_key(client=issued.client, actor=Actor.system("test"))
    stored = Client.objects.get(client_id="idm").key_hash
    assert not credentials.api_key_matches(issued.key, stored)
    assert credentials.api_key_matches(rotated.key, stored)
    assert AuditEvent.objects.filter(action="client.rotate_key", target_id="idm").exists()


def test_it_imports_both_spellings_and_creates_groups() -> None:
    result = clients_import(entries=parse_client_config(KEBAB), actor=Actor.system("test"))
    assert result.created == ["idm", "da"]
    result = clients_import(entries=parse_client_config(CAMEL), actor=Actor.system("test"))
    assert result.created == ["hermod-app"]
    assert set(Group.objects.values_list("name", flat=True)) == {"smartid", "acme"}
    app = Client.objects.get(client_id="hermod-app")
    assert app.callback_basic_auth == "primeuser:primeuserpw"
    assert credentials.api_key_matches(
        "59c2a0a1999d42dbbe7f16ef1072736a031c5f4739c04025a641ae1751849857", app.key_hash
    )


def test_importing_again_updates_instead_of_duplicating() -> None:
    clients_import(entries=parse_client_config(KEBAB), actor=Actor.system("test"))
    changed = KEBAB.replace("https://idm-host.example.com/ws/hermod", "https://new.example.com/cb")
    result = clients_import(entries=parse_client_config(changed), actor=Actor.system("test"))
    assert result.created == []
    assert result.updated == ["idm", "da"]
    assert Client.objects.count() == 2
    assert Client.objects.get(client_id="idm").callback_url == "https://new.example.com/cb"


def test_an_import_with_one_bad_entry_stores_nothing() -> None:
    good, bad = parse_client_config(KEBAB)
    bad = dataclasses.replace(bad, callback_url="https://<DA-HOST>/cb")
    with pytest.raises(ClientError, match="'da': invalid callback_url"):
        clients_import(entries=[good, bad], actor=Actor.system("test"))
    assert Client.objects.count() == 0
    assert Group.objects.count() == 0
