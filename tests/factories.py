"""Builders for console tests: form data and domain rows made without a device."""

import uuid
from datetime import timedelta
from typing import Any

from django.utils import timezone

from hermod_core.lifecycle import State
from hermod_core.models import (
    Certificate,
    Client,
    Command,
    EndUser,
    Key,
    Mailbox,
    MailboxKind,
    Profile,
)
from hermod_core.services.commands import command_transition


def provision_data(client: Client, **overrides: Any) -> dict[str, Any]:
    """A filled-in provisioning form: two key requests (one row left empty) and desktop options."""
    data: dict[str, Any] = {
        "client": client.pk,
        "userid": "alice@example.com",
        "profile_name": "Work phone",
        "servername": "hermod-test",
        "lifespan": 300,
        "timeout": 600,
        "external_id": "ext-1",
        "subject_O": "Acme",
        "subject_CN": "{userid}",
        "keys-TOTAL_FORMS": 3,
        "keys-INITIAL_FORMS": 0,
        "keys-MIN_NUM_FORMS": 0,
        "keys-MAX_NUM_FORMS": 8,
        "keys-0-keyid": "signer",
        "keys-0-usage": "SIG",
        "keys-0-keytype": "RSA-2048",
        "keys-0-mechanism": "RS256",
        "keys-0-storages": "APP",
        "keys-0-keystate": "ACTIVE",
        "keys-1-keyid": "",
        "keys-1-usage": "SIG",
        "keys-1-keytype": "RSA-2048",
        "keys-1-mechanism": "RS256",
        "keys-1-storages": "APP",
        "keys-1-keystate": "ACTIVE",
        "keys-2-keyid": "auth",
        "keys-2-usage": "AUTH",
        "keys-2-keytype": "EC-256",
        "keys-2-mechanism": "ES256",
        "keys-2-storages": "TPM, os",
        "keys-2-keystate": "ACTIVE",
        "action": "issue",
    }
    data.update(overrides)
    return data


def make_profile(client: Client, userid: str = "bob", *, name: str = "Bob's phone") -> Profile:
    """An active profile with a permanent box, one key and one certificate."""
    user, _ = EndUser.objects.get_or_create(group=client.group, userid=userid)
    profile = Profile.objects.create(
        group=client.group,
        user=user,
        name=name,
        servername="hermod-test",
        device_info={"operatingsystem": "Android 15", "name": "Pixel", "model": "9"},
        attestation_thumbprint="att-thumb",
    )
    Mailbox.objects.create(group=client.group, kind=MailboxKind.PERMANENT, profile=profile)
    key = Key.objects.create(
        profile=profile,
        keyid="signer",
        usage="SIG",
        keytype="RSA",
        keylength=2048,
        jwk={"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        thumbprint="key-thumb",
        certreq="MIIB",
    )
    now = timezone.now()
    Certificate.objects.create(
        profile=profile,
        key=key,
        source=Certificate.Source.CA,
        der_b64="MIIC",
        subject="CN=Bob,O=Acme",
        issuer="CN=Test CA",
        serial="01",
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=364),
        sha256=uuid.uuid4().hex,
    )
    return profile


def complete(command: Command, profile: Profile) -> None:
    """End a provisioning command as a valid answer would (without a device)."""
    assert command_transition(
        command_id=command.pk,
        to=State.COMPLETED,
        answer={"provResponse": {}},
        profile_id=profile.pk,
    )
    Profile.objects.filter(pk=profile.pk).update(created_by_command=command)
