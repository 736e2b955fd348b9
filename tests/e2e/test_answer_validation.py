"""Every validation rule of docs/PROTOCOL.md §6.2–§6.3 broken once by the device's fault flags: 422
naming the rule, the command FAILED with the reason stored, nothing about profiles changed."""

import base64
from typing import Any

import pytest
import requests

from hermod_core.crypto import jwk
from hermod_core.models import Command, Key, Profile, TrustedAttestationKey
from tests.api_client import token_of
from tests.e2e.steps import key_request, provision
from tests.matchers import PROVISIONED
from tests.seeds import provisioning_command

pytestmark = pytest.mark.django_db(transaction=True)


def body_with(*requests: dict[str, Any]) -> dict[str, Any]:
    body = provisioning_command()
    body["provCommand"]["profile"]["keygenrequests"] = list(requests)
    return body


PROVISIONING_FAULTS = [
    ("wrong_nonce", "NONCE_MISMATCH", None),
    ("tampered_payload", "ATTESTATION_JWS_BAD_SIGNATURE", None),
    ("wrong_key", "SIGNEDKEY_JWS_BAD_SIGNATURE", None),
    ("other_subject", "CSR_SUBJECT_MISMATCH", None),
    ("alg_none", "ATTESTATION_JWS_ALG_NOT_ALLOWED", None),
    ("hs256", "ATTESTATION_JWS_ALG_NOT_ALLOWED", None),
    ("wrong_fqdn", "FQDN_MISMATCH", None),
    ("missing_key", "SIGNEDKEYS_COUNT", None),
    ("small_key", "SIGNEDKEY_JWK_INVALID", None),
    ("small_key", "KEY_TYPE_NOT_REQUESTED", ("EC", 256)),
    ("wrong_inreplyto", "IN_REPLY_TO_MISMATCH", None),
    ("csr_key_mismatch", "CSR_KEY_MISMATCH", None),
]


@pytest.mark.parametrize(("fault", "code", "key"), PROVISIONING_FAULTS)
def test_each_broken_provisioning_rule_is_refused(api_a, faulty, fault, code, key) -> None:
    body = body_with(key_request("k", *key)) if key else provisioning_command()
    created = api_a.create("provision", body)
    outcome = faulty(**{fault: True}).enroll(created["destinations"][0]["uri"])
    assert outcome.http_status == 422, outcome.body
    assert outcome.body["error"]["code"] == code
    polled = api_a.poll(created["commandId"])
    assert polled["state"] == "FAILED"
    assert polled["failure"]["code"] == code
    assert polled["provResponse"]["code"] == 0  # the device's answer is kept for the record
    assert not Profile.objects.exists()
    assert not Key.objects.exists()
    assert Command.objects.get(pk=created["commandId"]).failure_reason


def test_a_group_with_trusted_attestation_keys_refuses_other_devices(
    api_a, client_a, make_device
) -> None:
    other = make_device("trusted")
    provision(api_a, other)  # no trusted keys yet: anyone may provision
    attestation = Profile.objects.get().attestation_jwk
    TrustedAttestationKey.objects.create(
        group=client_a.client.group, jwk=attestation, thumbprint=jwk.thumbprint(attestation)
    )
    provision(api_a, other)  # the trusted device still can
    created = api_a.create("provision", provisioning_command())
    outcome = make_device("stranger").enroll(created["destinations"][0]["uri"])
    assert outcome.http_status == 422
    assert outcome.body["error"]["code"] == "ATTESTATION_KEY_NOT_TRUSTED"


def test_real_app_quirks_are_accepted(api_a, make_device) -> None:
    """JWKs with extra members ("n#len", "keystate") and a modulus with a leading zero byte."""
    device = make_device("quirky", quirky_jwk=True)
    result = provision(api_a, device)
    assert result["state"] == "COMPLETED"


SIGNATURE_FAULTS = [
    ("jws", "wrong_nonce", "NONCE_MISMATCH"),
    ("jws", "tampered_payload", "SIGNATURE_JWS_BAD_SIGNATURE"),
    ("jws", "wrong_key", "SIGNATURE_JWS_BAD_SIGNATURE"),
    ("jws", "alg_none", "SIGNATURE_JWS_ALG_NOT_ALLOWED"),
    ("jws", "hs256", "SIGNATURE_JWS_ALG_NOT_ALLOWED"),
    ("jws", "wrong_tbs", "TBS_DIGEST_MISMATCH"),
    ("pkcs7", "tampered_payload", "SIGNATURE_CMS_BAD_SIGNATURE"),
    ("pkcs7", "wrong_key", "SIGNATURE_CMS_WRONG_KEY"),
    ("pkcs7", "wrong_tbs", "SIGNATURE_CMS_CONTENT_MISMATCH"),
    ("pkcs7", "no_signed_attributes", "SIGNED_ATTRIBUTES_MISSING"),
    ("pkcs7", "stale_signing_time", "SIGNING_TIME_OUT_OF_RANGE"),
]


@pytest.mark.parametrize(("format_", "fault", "code"), SIGNATURE_FAULTS)
def test_each_broken_signature_rule_is_refused(api_a, tmp_path, format_, fault, code) -> None:
    from hermod_core.emulator.device import Device, Faults

    honest = Device(tmp_path / "device")
    result = provision(api_a, honest)
    cheat = Device(tmp_path / "device", faults=Faults(**{fault: True}))  # same profile and keys
    created = api_a.create(
        "sign",
        {
            "signCommand": {
                "profileid": result["profile"]["id"],
                "params": {
                    "tbs": [{"data": base64.b64encode(b"Pay 100 EUR").decode()}],
                    "format": format_,
                },
            }
        },
    )
    (outcome,) = cheat.run_once()
    assert outcome.http_status == 422, outcome.body
    assert outcome.body["error"]["code"] == code
    polled = api_a.poll(created["commandId"])
    assert polled["state"] == "FAILED"
    assert polled["failure"]["code"] == code


def test_an_answer_replayed_to_another_message_is_refused(api_a, device) -> None:
    first = api_a.create("provision", provisioning_command())
    second = api_a.create("provision", provisioning_command())

    d1, d2 = first["destinations"][0], second["destinations"][0]
    message = device.fetch(d1["location"], token_of(d1))
    answered = device.answer(d1["location"], token_of(d1), message)
    assert answered.body == PROVISIONED
    replay_body = Command.objects.get(pk=first["commandId"]).answer
    response = requests.post(
        d2["location"],
        json=replay_body,
        headers={"Authorization": f"Bearer {token_of(d2)}"},
        timeout=10,
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "IN_REPLY_TO_MISMATCH"
    assert api_a.poll(second["commandId"])["state"] == "FAILED"
