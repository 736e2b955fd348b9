"""One-time challenges against the real micromdm scepserver (docs/PROTOCOL.md §10, issue 10).

The CA is started with `-csrverifierexec hermod-scep-verify`: for every PKCSReq it runs the
executable, which asks this test's live Hermod over HTTP. Hermod's own CA step (`ca_enroll`) sends
the device's CSR; an attacker sends their own CSR straight to the CA.
"""

import base64
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from hermod_core.models import CaChallenge, CaSettings, Certificate, Command, Group
from hermod_core.scep import ScepClient
from hermod_core.scep.results import PkiStatus
from hermod_core.services.audit import Actor
from hermod_core.services.ca import ca_enroll, ca_settings_set, ra_identity_pem, scep_config
from hermod_core.services.ca_challenges import ca_verifier_rotate
from tests.factories import (
    Persona,
    Provisioning,
    answer,
    attacker_csr,
    device_csr,
    provision,
)
from tests.scepserver import VERIFIER, RealScepServer, verifying_scepserver

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

_RA: dict[str, tuple[str, str]] = {}


def ca_with_verifier(persona: Persona, scep_url: str) -> str:
    """The persona's group gets a CA (one-time mode, an RA identity); returns its credential."""
    if "ra" not in _RA:
        _RA["ra"] = ra_identity_pem("Hermod RA (tests)")
    key_pem, cert_pem = _RA["ra"]
    group = Group.objects.get(pk=persona.client.group_id)
    ca_settings_set(
        group=group,
        scep_url=scep_url,
        auto_certify=False,
        challenge_password="the-CA-enrolment-secret",
        ra_key_pem=key_pem,
        ra_certificate_pem=cert_pem,
        actor=Actor.system("test"),
    )
    return ca_verifier_rotate(group=group, actor=Actor.system("test"))


@pytest.fixture
def scep_ca(live_server: Any, client_a: Persona, tmp_path: Path) -> Iterator[RealScepServer]:
    """Group A's CA: a real scepserver checking challenges with the live Hermod."""
    credential = ca_with_verifier(client_a, "http://127.0.0.1:9/scep")
    with verifying_scepserver(
        tmp_path / "scepserver",
        verify_url=f"{live_server.url}/hermod/rest/ca/challenge/verify",
        credential=credential,
    ) as server:
        CaSettings.objects.filter(group_id=client_a.client.group_id).update(scep_url=server.url)
        yield server


def enroll_directly(persona: Persona, csr_b64: str) -> PkiStatus:
    """What an attacker does: send a CSR straight to the CA (with the group's RA, the strongest
    position: the CA trusts it)."""
    ca = CaSettings.objects.get(group_id=persona.client.group_id)
    with ScepClient(scep_config(ca)) as scep:
        return scep.enroll(base64.b64decode(csr_b64)).status


def at_ca_step(client: Any, persona: Persona, tmp_path: Path) -> tuple[Provisioning, Any]:
    provisioning = provision(client, persona)
    return provisioning, answer(client, provisioning, tmp_path)


def test_the_ca_issues_the_devices_certificate_for_a_fresh_challenge(
    client: Any, client_a: Persona, scep_ca: RealScepServer, tmp_path: Path
) -> None:
    provisioning, _ = at_ca_step(client, client_a, tmp_path)

    assert ca_enroll(command_id=int(provisioning.command_id)) == "DONE"

    (certificate,) = Certificate.objects.filter(profile__created_by_command=provisioning.command_id)
    assert certificate.key.keyid == "signer"
    assert "Anders Wallbom" in certificate.subject
    challenge = CaChallenge.objects.get(command_id=provisioning.command_id)
    assert challenge.consumed_at is not None
    assert challenge.bound_key_thumbprint == certificate.key.thumbprint


def test_the_ca_refuses_a_used_challenge_to_another_csr_and_to_a_late_retry(
    client: Any, client_a: Persona, scep_ca: RealScepServer, tmp_path: Path
) -> None:
    provisioning, profile = at_ca_step(client, client_a, tmp_path)
    assert ca_enroll(command_id=int(provisioning.command_id)) == "DONE"

    stolen = attacker_csr(provisioning.templates()["signer"])
    assert enroll_directly(client_a, stolen) is PkiStatus.FAILURE
    # The CA step is over: even the device's own CSR no longer gets a certificate.
    assert enroll_directly(client_a, device_csr(profile)) is PkiStatus.FAILURE


def test_the_ca_refuses_a_challenge_read_from_the_qr_code_before_the_device_answered(
    client: Any, client_a: Persona, scep_ca: RealScepServer
) -> None:
    provisioning = provision(client, client_a)
    stolen = attacker_csr(provisioning.templates()["signer"])

    assert enroll_directly(client_a, stolen) is PkiStatus.FAILURE
    assert CaChallenge.objects.get(command_id=provisioning.command_id).consumed_at is None


def test_the_ca_refuses_another_groups_challenge(
    client: Any,
    client_a: Persona,
    client_b: Persona,
    scep_ca: RealScepServer,
    tmp_path: Path,
) -> None:
    ca_with_verifier(client_b, scep_ca.url)  # group B's own CA settings, at the same CA
    provisioning_b, profile_b = at_ca_step(client, client_b, tmp_path)
    assert Command.objects.get(pk=provisioning_b.command_id).ca_state == "PENDING"

    # The CA asks Hermod with group A's credential (its -csrverifierexec environment).
    assert enroll_directly(client_a, device_csr(profile_b)) is PkiStatus.FAILURE
    assert CaChallenge.objects.get(command_id=provisioning_b.command_id).consumed_at is None


def test_the_ca_refuses_a_challenge_past_its_deadline(
    client: Any, client_a: Persona, scep_ca: RealScepServer, tmp_path: Path
) -> None:
    provisioning, _ = at_ca_step(client, client_a, tmp_path)
    CaChallenge.objects.filter(command_id=provisioning.command_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert ca_enroll(command_id=int(provisioning.command_id)) == "FAILED"
    command = Command.objects.get(pk=provisioning.command_id)
    assert "badRequest" in command.ca_error
    assert not Certificate.objects.exists()


# --- the executable on its own ------------------------------------------------------------------


def run_verifier(env: dict[str, str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(VERIFIER)], input=stdin, env=env, capture_output=True, timeout=60, check=False
    )


def test_the_verifier_exits_0_only_for_what_hermod_accepts(
    client: Any, client_a: Persona, live_server: Any, tmp_path: Path
) -> None:
    credential = ca_with_verifier(client_a, "http://127.0.0.1:9/scep")
    provisioning, profile = at_ca_step(client, client_a, tmp_path)
    env = {
        "PATH": "/usr/bin:/bin",
        "HERMOD_CA_VERIFY_URL": f"{live_server.url}/ca/challenge/verify",
        "HERMOD_CA_VERIFIER_CREDENTIAL": credential,
    }
    device_der = base64.b64decode(device_csr(profile))
    stolen_der = base64.b64decode(attacker_csr(provisioning.templates()["signer"]))

    refused = run_verifier(env, stolen_der)
    accepted = run_verifier(env, device_der)
    retried = run_verifier(env, device_der)
    wrong_key = run_verifier(env | {"HERMOD_CA_VERIFIER_CREDENTIAL": "hcv_wrong"}, device_der)
    unconfigured = run_verifier({"PATH": "/usr/bin:/bin"}, device_der)
    garbage = run_verifier(env, b"not a csr")

    assert (refused.returncode, accepted.returncode, retried.returncode) == (1, 0, 0)
    assert b"CHALLENGE_REFUSED" in refused.stderr
    assert (wrong_key.returncode, unconfigured.returncode, garbage.returncode) == (2, 2, 1)
    assert b"HERMOD_CA_VERIFY_URL" in unconfigured.stderr
