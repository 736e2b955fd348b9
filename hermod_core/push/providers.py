"""The provider of a group for a registration: built from the group's push settings.

FCM and APNs are imported when first used, so a group that never configured them never loads
their HTTP/2 clients.
"""

import importlib
from typing import Any

from django.conf import settings

from hermod_core.models import GroupPushSettings, PushProviderName, RelayAuth
from hermod_core.push.base import PushProvider
from hermod_core.push.relay import RelayProvider
from hermod_core.push.transport import ProviderConfigError
from hermod_core.push.webpush import WebPushProvider
from hermod_core.services.callbacks import ca_bundle
from hermod_core.services.credentials import unseal

APNS_SANDBOX = "https://api.sandbox.push.apple.com"  # development builds of the app
# The purpose under which every push secret of a group is sealed (services.credentials.seal).
PUSH_SECRET = "push-secret"  # noqa: S105 (a purpose, not a secret)


class ProviderUnavailable(Exception):
    """The group has no usable configuration for this provider (removed, or unreadable after
    HERMOD_KEY_HASH_SECRET changed)."""


def vapid_subject(config: GroupPushSettings) -> str:
    return config.vapid_subject or f"mailto:push@{settings.HERMOD_FQDN or 'localhost'}"


def _secret(sealed: str, what: str) -> str:
    value = unseal(PUSH_SECRET, sealed)
    if not value:
        raise ProviderUnavailable(f"the {what} cannot be read: configure it again")
    return value


def _lazy(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ProviderUnavailable(f"{module} is not installed in this build") from exc


def provider_build(config: GroupPushSettings, name: str) -> PushProvider:
    """The configured provider ``name`` of the group, or ``ProviderUnavailable`` (also when a
    client refuses its configuration: ``ProviderConfigError`` names the field)."""
    try:
        return _build(config, name)
    except ProviderConfigError as exc:
        raise ProviderUnavailable(str(exc)) from exc


def _build(config: GroupPushSettings, name: str) -> PushProvider:
    if name not in config.providers():
        raise ProviderUnavailable(f"the group has no {name} push configured")
    timeout = float(settings.HERMOD_PUSH_TIMEOUT)
    verify = ca_bundle()
    if name == PushProviderName.RELAY:
        credential = (
            _secret(config.relay_credential_sealed, "relay credential")
            if config.relay_auth != RelayAuth.NONE
            else ""
        )
        return RelayProvider(
            config.relay_url,
            basic_auth=credential if config.relay_auth == RelayAuth.BASIC else "",
            bearer=credential if config.relay_auth == RelayAuth.BEARER else "",
            verify=verify,
            timeout=timeout,
            user_agent=f"Hermod/{settings.VERSION}",
        )
    if name == PushProviderName.WEBPUSH:
        return WebPushProvider(
            _secret(config.vapid_private_sealed, "VAPID key"),
            subject=vapid_subject(config),
            verify=verify,
            timeout=timeout,
        )
    if name == PushProviderName.FCM:
        fcm = _lazy("hermod_core.push.fcm", "FcmProvider")
        provider: PushProvider = fcm(
            _secret(config.fcm_service_account_sealed, "FCM service account"),
            api_base=settings.HERMOD_PUSH_FCM_URL,
            verify=verify,
            timeout=timeout,
        )
        return provider
    if name == PushProviderName.APNS:
        apns = _lazy("hermod_core.push.apns", "ApnsProvider")
        base = settings.HERMOD_PUSH_APNS_URL or (APNS_SANDBOX if config.apns_sandbox else "")
        extra = {"base_url": base} if base else {}
        provider = apns(
            _secret(config.apns_key_sealed, "APNs key"),
            key_id=config.apns_key_id,
            team_id=config.apns_team_id,
            topic=config.apns_topic,
            verify=verify,
            timeout=timeout,
            **extra,
        )
        return provider
    raise ProviderUnavailable(f"unknown push provider {name!r}")
