"""Certificates from a real SCEP CA after provisioning (docs/PROTOCOL.md §10): micromdm's
scepserver, real Celery workers, the reference device. The CA checks each template's one-time
challenge with Hermod through `-csrverifierexec hermod-scep-verify`; the CA's own password never
leaves Hermod."""

import base64
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.x509.oid import AttributeOID

from hermod_core.emulator.device import Device
from tests.api_client import Api
from tests.e2e.receiver import Receiver
from tests.e2e.steps import make_client
from tests.matchers import PROVISIONED
from tests.scepserver import verifying_scepserver
from tests.seeds import provisioning_command
from tests.stack import Hermod

pytestmark = pytest.mark.services


def provision_with_ca(
    stack: Hermod, receiver: Receiver, group: str, ca_url: str, *ca_options: str
) -> tuple[Api, dict[str, Any]]:
    """A client of a new ``group`` whose CA is ``ca_url`` (``manage.py hermod_ca set``, with a
    generated RA and ``ca_options``), and the seed provisioning it created."""
    client = make_client(stack, receiver, group=group)
    stack.manage(
        "hermod_ca", "set", group, "--url", ca_url, "--generate-ra", "Hermod RA", *ca_options
    )
    return client, client.create("provision", provisioning_command())


def test_provisioning_gets_certificates_from_the_ca_and_auto_certifies_the_device(
    stack, receiver, tmp_path
) -> None:
    client = make_client(stack, receiver, group="with-ca")
    out = stack.manage(
        "hermod_ca", "set", "with-ca", "--url", "http://127.0.0.1:9/scep", "--generate-ra",
        "Hermod RA", "--challenge", "the-CA-secret", "--generate-verifier",
    )  # fmt: skip
    credential = re.search(r"^verifier: (\S+)$", out, re.M).group(1)  # type: ignore[union-attr]
    verify_url = f"{stack.url}/hermod/rest/ca/challenge/verify"
    with verifying_scepserver(
        tmp_path / "ca", verify_url=verify_url, credential=credential
    ) as server:
        stack.manage("hermod_ca", "set", "with-ca", "--url", server.url, "--generate-ra",
                     "Hermod RA", "--auto-certify")  # fmt: skip
        created = client.create("provision", provisioning_command())
        _enroll_and_check_certificates(client, created, receiver, tmp_path)


def _enroll_and_check_certificates(
    client: Api, created: dict[str, Any], receiver: Receiver, tmp_path: Any
) -> None:
    device = Device(tmp_path / "device")
    outcome = device.enroll(created["destinations"][0]["uri"])
    assert outcome.body == PROVISIONED
    (callback,) = receiver.wait_for(1, timeout=60)
    body = callback.body
    assert body["state"] == "COMPLETED"
    assert body["ca"] == {"state": "DONE"}
    (certificate,) = body["certificates"]
    assert certificate["keyid"] == "signer"
    assert "Anders Wallbom" in certificate["subject"]
    assert client.poll(created["commandId"])["certificates"] == body["certificates"]
    outcomes = []
    for _ in range(40):  # the auto-certify command reaches the device's permanent box
        outcomes = device.run_once()
        if outcomes:
            break
        time.sleep(0.25)
    (cert_outcome,) = outcomes
    assert cert_outcome.command_type == "CERT"
    assert cert_outcome.body == {"state": "COMPLETED"}
    assert device.profiles[0].certificates["signer"] == certificate["data"]


def test_a_ca_refusal_is_recorded_and_the_provisioning_result_is_kept(
    stack, scepserver_factory, receiver, tmp_path
) -> None:
    server = scepserver_factory("rejecting")
    _client, created = provision_with_ca(stack, receiver, "rejecting-ca", server.url)
    outcome = Device(tmp_path / "device").enroll(created["destinations"][0]["uri"])
    assert outcome.body == PROVISIONED
    (callback,) = receiver.wait_for(1, timeout=60)
    body = callback.body
    assert body["state"] == "COMPLETED"
    assert body["profile"]["keys"][0]["certreq"]
    assert body["ca"]["state"] == "FAILED"
    assert "badRequest" in body["ca"]["error"]
    assert "certificates" not in body


def _template(client: Api, created: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The message as the device (or anyone with the QR code) fetches it, and its challenge."""
    destination = created["destinations"][0]
    token = parse_qs(urlsplit(destination["uri"]).query)["token"][0]
    message = client.session.get(
        destination["location"], headers={"Authorization": f"Bearer {token}"}
    ).json()
    template = message["provCommand"]["profile"]["keygenrequests"][0]["certreq"]
    csr = x509.load_der_x509_csr(base64.b64decode(template))
    value = csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD).value
    return message, value.decode() if isinstance(value, bytes) else str(value)


def test_the_template_sent_to_the_device_carries_a_one_time_challenge_not_the_cas_password(
    stack, receiver
) -> None:
    client, created = provision_with_ca(
        stack, receiver, "challenge-only", "http://127.0.0.1:9/scep", "--challenge", "pa55"
    )
    message, challenge = _template(client, created)
    assert "pa55" not in json.dumps(message)
    assert re.fullmatch(r"[0-9a-f]{40}", challenge)


def test_the_static_password_reaches_the_template_only_when_chosen(stack, receiver) -> None:
    client, created = provision_with_ca(
        stack, receiver, "static-opt-in", "http://127.0.0.1:9/scep", "--challenge", "pa55",
        "--challenge-mode", "static",
    )  # fmt: skip
    _, challenge = _template(client, created)
    assert challenge == "pa55"
