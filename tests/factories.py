"""The builders every test shares: the personas (clients A and A2 of one group, client B of
another; the console's admin, operator and role-less accounts), domain rows made without a
device, the console's form data, and the CA-challenge provisionings of docs/PROTOCOL.md §10.
Fixtures (tests/conftest.py, tests/portal/conftest.py) call these; tests import them from here."""

import base64
import copy
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AttributeOID
from django.conf import settings
from django.contrib.auth.models import Group as AuthGroup
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from hermod_core.crypto.csr import make_dummy_csr, parse_csr_b64
from hermod_core.emulator.device import Device
from hermod_core.emulator.envelope import Answer
from hermod_core.emulator.state import StoredProfile
from hermod_core.lifecycle import State
from hermod_core.models import (
    CallbackDelivery,
    Certificate,
    Client,
    Command,
    DeliveryState,
    EndUser,
    Group,
    Key,
    Mailbox,
    MailboxKind,
    Profile,
)
from hermod_core.protocol.commands import parse_command_request
from hermod_core.services.audit import Actor
from hermod_core.services.ca import ca_settings_set
from hermod_core.services.ca_challenges import ca_verifier_rotate
from hermod_core.services.clients import client_create
from hermod_core.services.commands import command_create, command_transition
from portal.models import BulkJob
from portal.provisioning import KeySpec, ProvisionSpec
from tests.matchers import PROVISIONED
from tests.seeds import provisioning_command

# --- API clients --------------------------------------------------------------------------------


@dataclass
class Persona:
    client: Client
    key: str
    api_key_header: str

    @property
    def headers(self) -> dict[str, str]:
        return {"HTTP_X_API_KEY": self.api_key_header}


# Client A and A2 share a group (the identity manager and the access gateway beside it);
# client B is another group's (another tenant).
CLIENTS = {
    "client_a": ("idm", "smartid", "https://idm.example.com/ws/hermod"),
    "client_a2": ("da", "smartid", "https://da.example.com/personalmessaging"),
    "client_b": ("other-tenant", "acme", "https://acme.example.com/hermod"),
}


def persona(name: str) -> Persona:
    """The client ``name`` of ``CLIENTS``, made as an operator makes one, with its key."""
    client_id, group_name, callback_url = CLIENTS[name]
    issued = client_create(
        client_id=client_id,
        group_name=group_name,
        callback_url=callback_url,
        actor=Actor.system("test"),
    )
    return Persona(client=issued.client, key=issued.key, api_key_header=issued.api_key_header)


# --- console accounts ---------------------------------------------------------------------------

PASSWORD = "correct horse battery staple"


def console_user(username: str, group: str | None) -> User:
    """An account with ``PASSWORD`` and, when given, a console role (its auth group)."""
    user = User.objects.create_user(username=username, password=PASSWORD)
    if group:
        user.groups.add(AuthGroup.objects.get_or_create(name=group)[0])
    return user


def signed_in(user: User, **kwargs: Any) -> HttpClient:
    """A test client signed in as ``user`` (``kwargs`` for Django's test client)."""
    http = HttpClient(**kwargs)
    http.force_login(user)
    return http


# --- console forms and rows made without a device -----------------------------------------------


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


def exhausted_deliveries(client: Client, n: int = 1) -> list[CallbackDelivery]:
    """``n`` provisioning commands whose callbacks gave up after 5 attempts (HTTP 503)."""
    rows = []
    for _ in range(n):
        command = command_create(
            client=client, request=parse_command_request("provision", provisioning_command())
        )
        CallbackDelivery.objects.filter(command=command).update(
            state=DeliveryState.EXHAUSTED,
            body={"x": 1},
            attempts=5,
            max_attempts=5,
            last_status=503,
            last_error="HTTP 503",
        )
        rows.append(CallbackDelivery.objects.get(command=command))
    return rows


def ping_from_page(operator: HttpClient, profile: Profile, client: Client) -> Any:
    """The operator pings ``profile`` from its console page, as ``client``."""
    return operator.post(
        reverse("portal:profile", args=[profile.pk]), {"action": "ping", "client": client.pk}
    )


def failed_test_callback(client: Client) -> CallbackDelivery:
    """A console "test callback" (no command) that gave up: connection refused."""
    return CallbackDelivery.objects.create(
        command=None,
        client=client,
        path="/callback/test",
        state=DeliveryState.EXHAUSTED,
        body={"test": True},
        attempts=1,
        max_attempts=1,
        last_error="connection refused",
    )


def provision_spec(userid: str = "dave@example.com", congrats: str = "") -> ProvisionSpec:
    """A console provisioning (one RSA signing key) for ``userid``, as an invitation carries it."""
    return ProvisionSpec(
        userid=userid,
        profile_name="Laptop",
        servername="hermod-test",
        subject=(("CN", "{userid}"),),
        keys=(KeySpec("signer", "SIG", "RSA", 2048, "RS256"),),
        lifespan=120,
        timeout=600,
        congratsmessage=congrats,
    )


BULK_CSV = (
    b"userid,CN,emailAddress\nann,Ann Smith,ann@example.com\nben,,ben@example.com\ncid,Cid,\n"
)


def bulk_upload(http: HttpClient, client: Client, data: bytes = BULK_CSV, **overrides: Any) -> Any:
    """The bulk form posted with ``data`` as its CSV file (``overrides``: other form fields)."""
    form = provision_data(client, **overrides)
    form.pop("userid")
    form["file"] = SimpleUploadedFile("users.csv", data, content_type="text/csv")
    return http.post(reverse("portal:bulk_create"), form)


def bulk_job(operator: HttpClient, client: Client, data: bytes = BULK_CSV) -> BulkJob:
    """The job of a bulk upload (the only one)."""
    bulk_upload(operator, client, data)
    return BulkJob.objects.get()


# --- groups with a SCEP CA, and provisionings of theirs (one-time challenges, §10) ---------------

PREFIX = f"/{settings.HERMOD_API_PREFIX}"
STATIC_PASSWORD = "the-CA-enrolment-secret"
VERIFY = f"{PREFIX}/ca/challenge/verify"


def ca_for(persona: Persona, *, mode: str | None = None, password: str = STATIC_PASSWORD) -> str:
    """Give the persona's group a CA with a static password (and ``mode``, default: the new-CA
    default); returns its verifier credential."""
    group = Group.objects.get(pk=persona.client.group_id)
    ca_settings_set(
        group=group,
        scep_url="http://127.0.0.1:9/scep",
        auto_certify=False,
        challenge_password=password,
        challenge_mode=mode,
        actor=Actor.system("test"),
    )
    return ca_verifier_rotate(group=group, actor=Actor.system("test"))


def two_key_provisioning() -> dict[str, Any]:
    body = provisioning_command()
    requests = body["provCommand"]["profile"]["keygenrequests"]
    second = copy.deepcopy(requests[0])
    second["keyid"] = "authenticator"
    second["usage"] = "AUTH"
    requests.append(second)
    return body


def post_json(client: Any, path: str, body: Any, **extra: Any) -> Any:
    return client.post(path, body, content_type="application/json", **extra)


@dataclass
class Provisioning:
    command_id: str
    location: str
    token: str
    message: dict[str, Any]

    def templates(self) -> dict[str, str]:
        requests = self.message["provCommand"]["profile"]["keygenrequests"]
        return {r["keyid"]: r["certreq"] for r in requests}

    def challenge(self, keyid: str = "signer") -> str:
        return template_challenge(self.templates()[keyid])


def provision(client: Any, persona: Persona, body: dict[str, Any] | None = None) -> Provisioning:
    """Create a provisioning and fetch its message as the device (or whoever scans the QR code)."""
    created = post_json(
        client, f"{PREFIX}/command/provision", body or provisioning_command(), **persona.headers
    ).json()
    destination = created["destinations"][0]
    token = parse_qs(urlsplit(destination["uri"]).query)["token"][0]
    message = client.get(
        urlsplit(destination["location"]).path, HTTP_AUTHORIZATION=f"Bearer {token}"
    ).json()
    return Provisioning(created["commandId"], destination["location"], token, message)


def device_answer(client: Any, device: Device, provisioning: Provisioning) -> tuple[Answer, Any]:
    """``device`` answers ``provisioning``: what it built, and the server's response."""
    built = device.build_answer(provisioning.location, provisioning.message)
    answered = post_json(
        client,
        urlsplit(provisioning.location).path,
        built.body,
        HTTP_AUTHORIZATION=f"Bearer {provisioning.token}",
    )
    return built, answered


def answer(client: Any, provisioning: Provisioning, tmp_path: Path) -> StoredProfile:
    """The reference device answers the provisioning; returns what it stored (keys, CSRs)."""
    device = Device(tmp_path / f"phone-{provisioning.command_id}")
    built, answered = device_answer(client, device, provisioning)
    assert answered.json() == PROVISIONED, answered.content
    assert built.new_profile is not None
    return built.new_profile


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings_in(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    return []


def assert_no_secret(value: Any, secret: str) -> None:
    """``secret`` appears nowhere in ``value``: not as text, not inside any base64 member (a
    template is base64 DER, so the plain text of its challenge never shows in the JSON)."""
    for text in strings_in(value):
        assert secret not in text
        try:
            decoded = base64.b64decode(text, validate=True)
        except ValueError:
            continue
        assert secret.encode() not in decoded, text[:40]


def template_challenge(certreq_b64: str) -> str:
    csr = parse_csr_b64(certreq_b64).request
    value = csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD).value
    return value.decode() if isinstance(value, bytes) else str(value)


def attacker_csr(template_b64: str, key: rsa.RSAPrivateKey | None = None) -> str:
    """A CSR with the template's subject and challenge, signed by a key the attacker owns."""
    template = parse_csr_b64(template_b64)
    challenge = template_challenge(template_b64)
    der = make_dummy_csr(template.subject, challenge_password=challenge, key=key)
    return base64.b64encode(der).decode("ascii")


def device_csr(profile: StoredProfile, keyid: str = "signer") -> str:
    """The re-keyed CSR the device sent for ``keyid`` (what Hermod hands the CA)."""
    return profile.keys[keyid].certreq


def device_csr_with_subject(
    profile: StoredProfile, subject: x509.Name, keyid: str = "signer"
) -> str:
    """A CSR signed by the device's own key, with the template's challenge but another subject."""
    stored = profile.keys[keyid]
    challenge = template_challenge(stored.certreq)
    der = make_dummy_csr(subject, challenge_password=challenge, key=stored.private_key())
    return base64.b64encode(der).decode("ascii")
