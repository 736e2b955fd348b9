"""Groups with a SCEP CA, and provisionings of theirs, for the one-time challenge tests (§10)."""

import base64
import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AttributeOID
from django.conf import settings

from hermod_core.crypto.csr import make_dummy_csr, parse_csr_b64
from hermod_core.emulator.device import Device
from hermod_core.emulator.state import StoredProfile
from hermod_core.models import Group
from hermod_core.services.audit import Actor
from hermod_core.services.ca import ca_settings_set
from hermod_core.services.ca_challenges import ca_verifier_rotate
from tests.conftest import Persona
from tests.matchers import PROVISIONED
from tests.seeds import provisioning_command

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


def answer(client: Any, provisioning: Provisioning, tmp_path: Path) -> StoredProfile:
    """The reference device answers the provisioning; returns what it stored (keys, CSRs)."""
    device = Device(tmp_path / f"phone-{provisioning.command_id}")
    built = device.build_answer(provisioning.location, provisioning.message)
    answered = post_json(
        client,
        urlsplit(provisioning.location).path,
        built.body,
        HTTP_AUTHORIZATION=f"Bearer {provisioning.token}",
    )
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
