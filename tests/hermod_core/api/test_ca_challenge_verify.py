"""POST /ca/challenge/verify: the group's CA asks whether a one-time challenge allows an issuance
(docs/PROTOCOL.md §10). Personas: client A's group and client B's group, each with its own CA."""

import base64
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from django.utils import timezone

from hermod_core.crypto.csr import make_dummy_csr, parse_csr_b64
from hermod_core.models import AuditEvent, CaChallenge, Command, Key
from hermod_core.services.ca import DONE, FAILED
from hermod_core.services.commands import command_cancel
from tests.factories import (
    VERIFY,
    Persona,
    answer,
    attacker_csr,
    ca_for,
    device_csr,
    device_csr_with_subject,
    post_json,
    provision,
)
from tests.openapi import assert_conforms, generate

pytestmark = pytest.mark.django_db

REFUSED = {
    "error": {
        "code": "CHALLENGE_REFUSED",
        "message": "The challenge does not allow this enrolment.",
    }
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return generate()


def verify(client: Any, credential: str | None, body: Any) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {credential}"} if credential else {}
    return post_json(client, VERIFY, body, **headers)


@pytest.fixture
def verifier_a(client_a: Persona) -> str:
    return ca_for(client_a)


@pytest.fixture
def verifier_b(client_b: Persona) -> str:
    return ca_for(client_b)


@pytest.fixture
def at_ca_step(client: Any, client_a: Persona, verifier_a: str, tmp_path: Path) -> Any:
    """A provisioning of group A the device answered: COMPLETED, its CA step PENDING."""
    provisioning = provision(client, client_a)
    profile = answer(client, provisioning, tmp_path)
    command = Command.objects.get(pk=provisioning.command_id)
    assert (command.state, command.ca_state) == ("COMPLETED", "PENDING")
    return provisioning, profile


def test_the_ca_may_issue_for_a_fresh_challenge_with_the_devices_csr(
    client: Any, verifier_a: str, at_ca_step: Any, document: dict[str, Any]
) -> None:
    provisioning, profile = at_ca_step

    response = verify(client, verifier_a, {"csr": device_csr(profile)})

    assert response.status_code == 200, response.content
    assert response.json() == {
        "state": "ACCEPTED",
        "commandId": provisioning.command_id,
        "keyid": "signer",
    }
    assert_conforms(document, "post", "/ca/challenge/verify", response)
    row = CaChallenge.objects.get(command_id=provisioning.command_id)
    assert row.consumed_at is not None
    assert row.bound_key_thumbprint == Key.objects.get(keyid="signer").thumbprint
    assert AuditEvent.objects.filter(action="ca.challenge_consumed").count() == 1


def test_the_unprefixed_alias_serves_the_same_check(
    client: Any, verifier_a: str, at_ca_step: Any
) -> None:
    _, profile = at_ca_step
    response = post_json(
        client,
        "/ca/challenge/verify",
        {"csr": device_csr(profile)},
        HTTP_AUTHORIZATION=f"Bearer {verifier_a}",
    )
    assert response.status_code == 200


def test_the_same_enrolment_may_be_verified_again(
    client: Any, verifier_a: str, at_ca_step: Any
) -> None:
    _, profile = at_ca_step
    assert verify(client, verifier_a, {"csr": device_csr(profile)}).status_code == 200
    again = verify(client, verifier_a, {"csr": device_csr(profile)})
    assert again.status_code == 200
    assert AuditEvent.objects.filter(action="ca.challenge_consumed").count() == 1


def test_a_challenge_used_by_the_device_is_refused_to_another_csr(
    client: Any, verifier_a: str, at_ca_step: Any, document: dict[str, Any]
) -> None:
    provisioning, profile = at_ca_step
    assert verify(client, verifier_a, {"csr": device_csr(profile)}).status_code == 200

    stolen = verify(client, verifier_a, {"csr": attacker_csr(provisioning.templates()["signer"])})

    assert stolen.status_code == 403
    assert stolen.json() == REFUSED
    assert_conforms(document, "post", "/ca/challenge/verify", stolen)


def test_a_challenge_read_from_the_qr_code_is_refused_before_the_device_answered(
    client: Any, client_a: Persona, verifier_a: str
) -> None:
    provisioning = provision(client, client_a)
    template = provisioning.templates()["signer"]

    response = verify(client, verifier_a, {"csr": attacker_csr(template)})

    assert response.status_code == 403
    assert CaChallenge.objects.get(command_id=provisioning.command_id).consumed_at is None


def test_a_challenge_read_from_the_qr_code_is_refused_at_the_ca_step_for_another_key(
    client: Any, verifier_a: str, at_ca_step: Any
) -> None:
    provisioning, _ = at_ca_step
    response = verify(client, verifier_a, {"csr": attacker_csr(provisioning.templates()["signer"])})
    assert response.status_code == 403
    assert CaChallenge.objects.get(command_id=provisioning.command_id).consumed_at is None


def test_the_devices_key_with_another_subject_is_refused(
    client: Any, verifier_a: str, at_ca_step: Any
) -> None:
    _, profile = at_ca_step
    other = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Someone Else")])
    response = verify(client, verifier_a, {"csr": device_csr_with_subject(profile, other)})
    assert response.status_code == 403


def test_another_groups_verifier_cannot_use_a_challenge(
    client: Any, verifier_b: str, at_ca_step: Any
) -> None:
    _, profile = at_ca_step
    response = verify(client, verifier_b, {"csr": device_csr(profile)})
    assert response.status_code == 403
    assert response.json() == REFUSED


def test_an_unknown_challenge_gets_the_same_refusal(client: Any, verifier_a: str) -> None:
    response = verify(client, verifier_a, {"challenge": "0" * 40})
    assert response.status_code == 403
    assert response.json() == REFUSED


@pytest.mark.parametrize(
    "end",
    [
        pytest.param(lambda c: Command.objects.filter(pk=c).update(ca_state=DONE), id="ca-done"),
        pytest.param(
            lambda c: Command.objects.filter(pk=c).update(ca_state=FAILED), id="ca-failed"
        ),
        pytest.param(
            lambda c: CaChallenge.objects.filter(command_id=c).update(
                expires_at=timezone.now() - timedelta(seconds=1)
            ),
            id="past-deadline",
        ),
    ],
)
def test_a_challenge_dies_with_its_ca_step(
    client: Any, verifier_a: str, at_ca_step: Any, end: Any
) -> None:
    provisioning, profile = at_ca_step
    end(int(provisioning.command_id))
    assert verify(client, verifier_a, {"csr": device_csr(profile)}).status_code == 403


@pytest.mark.parametrize("state", ["EXPIRED", "FAILED", "CANCELLED"])
def test_a_challenge_dies_with_a_command_that_did_not_complete(
    client: Any, client_a: Persona, verifier_a: str, state: str
) -> None:
    provisioning = provision(client, client_a)
    Command.objects.filter(pk=provisioning.command_id).update(
        state=state, finished_at=timezone.now()
    )
    response = verify(client, verifier_a, {"challenge": provisioning.challenge()})
    assert response.status_code == 403


def test_a_cancelled_provisionings_challenge_is_refused(
    client: Any, client_a: Persona, verifier_a: str
) -> None:
    provisioning = provision(client, client_a)
    assert command_cancel(command=Command.objects.get(pk=provisioning.command_id))
    response = verify(client, verifier_a, {"challenge": provisioning.challenge()})
    assert response.status_code == 403


def test_a_challenge_checked_without_its_csr_is_used_up_by_that_check(
    client: Any, verifier_a: str, at_ca_step: Any
) -> None:
    provisioning, profile = at_ca_step
    challenge = provisioning.challenge()
    assert verify(client, verifier_a, {"challenge": challenge}).status_code == 200
    assert verify(client, verifier_a, {"challenge": challenge}).status_code == 403
    assert verify(client, verifier_a, {"csr": device_csr(profile)}).status_code == 403


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer hcv_not-a-credential",
        "Basic aGN2Og==",
        "Bearer ",
    ],
)
def test_a_missing_or_wrong_verifier_credential_answers_401(
    client: Any, verifier_a: str, at_ca_step: Any, header: str | None, document: dict[str, Any]
) -> None:
    _, profile = at_ca_step
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = post_json(client, VERIFY, {"csr": device_csr(profile)}, **extra)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert_conforms(document, "post", "/ca/challenge/verify", response)
    assert CaChallenge.objects.get().consumed_at is None


def test_a_rotated_verifier_credential_stops_working(
    client: Any, client_a: Persona, verifier_a: str, at_ca_step: Any
) -> None:
    _, profile = at_ca_step
    ca_for(client_a)  # rotates
    assert verify(client, verifier_a, {"csr": device_csr(profile)}).status_code == 401


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "MISSING_FIELD"),
        ([], "INVALID_JSON"),
        ({"csr": 5}, "INVALID_FIELD"),
        ({"csr": "bm90IGEgY3Ny"}, "CSR_INVALID"),
        ({"challenge": "x" * 256}, "CHALLENGE_INVALID"),
    ],
)
def test_a_malformed_request_answers_400(
    client: Any, verifier_a: str, body: Any, code: str, document: dict[str, Any]
) -> None:
    response = verify(client, verifier_a, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert_conforms(document, "post", "/ca/challenge/verify", response)


def test_a_csr_without_a_challenge_or_with_another_one_answers_400(
    client: Any, verifier_a: str, at_ca_step: Any
) -> None:
    provisioning, profile = at_ca_step
    bare = make_dummy_csr(parse_csr_b64(provisioning.templates()["signer"]).subject)
    response = verify(client, verifier_a, {"csr": base64.b64encode(bare).decode()})
    assert response.json()["error"]["code"] == "CSR_WITHOUT_CHALLENGE"
    mismatch = verify(client, verifier_a, {"csr": device_csr(profile), "challenge": "f" * 40})
    assert mismatch.json()["error"]["code"] == "CHALLENGE_MISMATCH"
