"""The provider registry builds each group's providers with what the settings hold; FCM and APNs
are imported only when used (their modules are stood in for here, so the wiring is checked
without a network)."""

import json
import sys
import types
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from hermod_core.push.providers import ProviderUnavailable, provider_build
from hermod_core.push.relay import RelayProvider
from hermod_core.push.webpush import WebPushProvider
from hermod_core.services.audit import Actor
from hermod_core.services.push import PushSettingsChange, push_settings_set

pytestmark = pytest.mark.django_db

ACCOUNT = json.dumps({"project_id": "p1", "client_email": "a@p1.iam", "private_key": "PK"})


def stand_in(monkeypatch: Any, module: str, name: str) -> list[tuple[tuple[Any, ...], dict]]:
    calls: list[tuple[tuple[Any, ...], dict]] = []

    class Provider:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            calls.append((args, kwargs))

    fake = types.ModuleType(module)
    setattr(fake, name, Provider)
    monkeypatch.setitem(sys.modules, module, fake)
    return calls


def p8() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


def test_fcm_is_built_from_the_unsealed_service_account(client_a, monkeypatch) -> None:
    calls = stand_in(monkeypatch, "hermod_core.push.fcm", "FcmProvider")
    config = push_settings_set(
        group=client_a.client.group,
        change=PushSettingsChange(fcm_service_account=ACCOUNT),
        actor=Actor.system("t"),
    )
    provider_build(config, "fcm")
    ((args, kwargs),) = calls
    assert args == (ACCOUNT,)
    assert set(kwargs) == {"api_base", "verify", "timeout"}
    assert kwargs["api_base"] == "https://fcm.googleapis.com"


@pytest.mark.parametrize(("sandbox", "base"), [(True, "https://api.sandbox.push.apple.com"),
                                              (False, None)])  # fmt: skip
def test_apns_is_built_with_key_ids_topic_and_environment(
    client_a, monkeypatch, sandbox, base
) -> None:
    calls = stand_in(monkeypatch, "hermod_core.push.apns", "ApnsProvider")
    key = p8()
    config = push_settings_set(
        group=client_a.client.group,
        change=PushSettingsChange(
            apns_key=key, apns_key_id="KEY1234567", apns_team_id="TEAM123456",
            apns_topic="com.example.app", apns_sandbox=sandbox,
        ),
        actor=Actor.system("t"),
    )  # fmt: skip
    provider_build(config, "apns")
    ((args, kwargs),) = calls
    assert args == (key,)
    assert kwargs["key_id"] == "KEY1234567"
    assert kwargs["team_id"] == "TEAM123456"
    assert kwargs["topic"] == "com.example.app"
    assert kwargs.get("base_url") == base


def test_relay_and_webpush_are_built_and_an_unconfigured_provider_is_refused(client_a) -> None:
    config = push_settings_set(
        group=client_a.client.group,
        change=PushSettingsChange(
            relay_url="https://n.example/push", relay_auth="bearer", relay_credential="tok",
            webpush_enabled=True,
        ),
        actor=Actor.system("t"),
    )  # fmt: skip
    relay = provider_build(config, "relay")
    assert isinstance(relay, RelayProvider)
    assert relay.headers["Authorization"] == "Bearer tok"
    assert isinstance(provider_build(config, "webpush"), WebPushProvider)
    with pytest.raises(ProviderUnavailable, match="no fcm"):
        provider_build(config, "fcm")


def test_a_secret_sealed_under_another_key_is_reported_not_sent(client_a, settings) -> None:
    config = push_settings_set(
        group=client_a.client.group,
        change=PushSettingsChange(
            relay_url="https://n.example/push", relay_auth="basic", relay_credential="u:p"
        ),
        actor=Actor.system("t"),
    )
    settings.HERMOD_KEY_HASH_SECRET = "rotated-" + "x" * 40
    with pytest.raises(ProviderUnavailable, match="configure it again"):
        provider_build(config, "relay")
