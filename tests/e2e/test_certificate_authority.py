"""Certificates from a real SCEP CA after provisioning (PROTOCOL.md §10): micromdm's scepserver,
real Celery workers, the reference device."""

import base64
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.x509.oid import AttributeOID

from hermod_core.emulator.device import Device
from tests.e2e.receiver import Receiver
from tests.e2e.test_callbacks import make_client
from tests.scepserver import CHALLENGE
from tests.seeds import provisioning_command
from tests.stack import Hermod, hermod_stack

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hermod]:
    with hermod_stack(tmp_path_factory.mktemp("ca-stack"), workers=2) as (hermod, _pg, _redis):
        yield hermod


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def test_provisioning_gets_certificates_from_the_ca_and_auto_certifies_the_device(
    stack, scepserver_factory, receiver, tmp_path
) -> None:
    server = scepserver_factory("challenge")
    client = make_client(stack, receiver, group="with-ca")
    stack.manage(
        "hermod_ca", "set", "with-ca", "--url", server.url, "--challenge", CHALLENGE,
        "--generate-ra", "Hermod RA", "--auto-certify",
    )  # fmt: skip
    created = client.post("provision", provisioning_command())
    device = Device(tmp_path / "device")
    outcome = device.enroll(created["destinations"][0]["uri"])
    assert outcome.body == {"state": "COMPLETED"}
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
    client = make_client(stack, receiver, group="rejecting-ca")
    stack.manage(
        "hermod_ca", "set", "rejecting-ca", "--url", server.url, "--generate-ra", "Hermod RA"
    )
    created = client.post("provision", provisioning_command())
    outcome = Device(tmp_path / "device").enroll(created["destinations"][0]["uri"])
    assert outcome.body == {"state": "COMPLETED"}
    (callback,) = receiver.wait_for(1, timeout=60)
    body = callback.body
    assert body["state"] == "COMPLETED"
    assert body["profile"]["keys"][0]["certreq"]
    assert body["ca"]["state"] == "FAILED"
    assert "badRequest" in body["ca"]["error"]
    assert "certificates" not in body


def test_the_template_sent_to_the_device_carries_the_challenge(stack, receiver) -> None:
    client = make_client(stack, receiver, group="challenge-only")
    stack.manage(
        "hermod_ca", "set", "challenge-only", "--url", "http://127.0.0.1:9/scep",
        "--challenge", "pa55", "--generate-ra", "RA",
    )  # fmt: skip
    created = client.post("provision", provisioning_command())
    destination = created["destinations"][0]
    token = parse_qs(urlsplit(destination["uri"]).query)["token"][0]
    message = client.session.get(
        destination["location"], headers={"Authorization": f"Bearer {token}"}
    ).json()

    template = message["provCommand"]["profile"]["keygenrequests"][0]["certreq"]
    csr = x509.load_der_x509_csr(base64.b64decode(template))
    assert csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD).value == b"pa55"
