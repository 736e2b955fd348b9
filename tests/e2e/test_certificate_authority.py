"""Certificates from a real SCEP CA after provisioning (PROTOCOL.md §10): micromdm's scepserver,
real Celery workers, the reference device."""

import base64
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.x509.oid import AttributeOID

from hermod_core.emulator.device import Device
from tests.e2e.conftest import Api, make_client
from tests.e2e.receiver import Receiver
from tests.matchers import PROVISIONED
from tests.scepserver import CHALLENGE
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
    stack, scepserver_factory, receiver, tmp_path
) -> None:
    server = scepserver_factory("challenge")
    client, created = provision_with_ca(
        stack, receiver, "with-ca", server.url, "--challenge", CHALLENGE, "--auto-certify"
    )
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


def test_the_template_sent_to_the_device_carries_the_challenge(stack, receiver) -> None:
    client, created = provision_with_ca(
        stack, receiver, "challenge-only", "http://127.0.0.1:9/scep", "--challenge", "pa55"
    )
    destination = created["destinations"][0]
    token = parse_qs(urlsplit(destination["uri"]).query)["token"][0]
    message = client.session.get(
        destination["location"], headers={"Authorization": f"Bearer {token}"}
    ).json()

    template = message["provCommand"]["profile"]["keygenrequests"][0]["certreq"]
    csr = x509.load_der_x509_csr(base64.b64decode(template))
    assert csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD).value == b"pa55"
