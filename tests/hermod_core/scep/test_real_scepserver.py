"""The SCEP client against the real micromdm scepserver (Debian's `scep` package)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from asn1crypto import cms as asn1_cms
from asn1crypto import parser
from cryptography import x509

from hermod_core.scep import cms
from hermod_core.scep.csr import public_key_der
from hermod_core.scep.errors import ScepConfigError, ScepRejectedError
from hermod_core.scep.results import PkiStatus
from tests.hermod_core.scep import factories
from tests.hermod_core.scep.conftest import CHALLENGE, Keys, RealScepServer, real_client

pytestmark = pytest.mark.services

ServerFactory = Callable[[str], RealScepServer]


class RecordingSession(requests.Session):
    """A session that keeps every response body, to look at what the CA put on the wire."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().request(*args, **kwargs)
        self.bodies.append(response.content)
        return response


def test_it_reads_the_ca_capabilities(scepserver_factory: ServerFactory, keys: Keys) -> None:
    with real_client(scepserver_factory("open"), keys) as client:
        caps = client.get_ca_caps()

    assert {"POSTPKIOperation", "AES", "DES3", "SHA-256", "SCEPStandard", "Renewal"} <= caps


def test_it_reads_the_single_der_ca_certificate(
    scepserver_factory: ServerFactory, keys: Keys
) -> None:
    with real_client(scepserver_factory("open"), keys) as client:
        chain = client.get_ca_cert()

    # micromdm has no RA certificate: requests are encrypted to the CA itself.
    assert chain.recipient is chain.ca
    assert chain.ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert chain.ca.subject.rfc4514_string() == "OU=SCEP CA,O=scep-ca,C=US"


def test_it_enrolls_a_csr_and_receives_a_certificate_for_the_csr_key(
    scepserver_factory: ServerFactory, keys: Keys
) -> None:
    device = keys.devices[0]
    csr = factories.csr(device, "device-enrolled", challenge=CHALLENGE)

    with real_client(scepserver_factory("challenge"), keys, challenge_password=CHALLENGE) as client:
        result = client.enroll(csr)
        chain = client.get_ca_cert()

    assert result.status is PkiStatus.SUCCESS
    cert = result.certificate
    assert cert is not None
    assert public_key_der(cert) == public_key_der(x509.load_der_x509_csr(csr))
    assert cert.subject == factories.name("device-enrolled")
    cert.verify_directly_issued_by(chain.ca)
    assert result.transaction_id == result.transaction_id.upper()
    assert len(result.transaction_id) == 64


def test_a_wrong_challenge_password_is_answered_with_failure_bad_request(
    scepserver_factory: ServerFactory, keys: Keys
) -> None:
    csr = factories.csr(keys.devices[1], "device-wrong-challenge", challenge="not-the-secret")

    with real_client(scepserver_factory("challenge"), keys) as client:
        result = client.enroll(csr)

    assert result.status is PkiStatus.FAILURE
    assert result.fail_info == "badRequest"  # micromdm sends failInfo "2" for any refusal
    assert result.certificates == ()
    with pytest.raises(ScepRejectedError) as raised:
        result.raise_for_failure()
    assert raised.value.fail_info == "badRequest"


def test_a_csr_without_the_configured_challenge_is_refused_before_sending(
    scepserver_factory: ServerFactory, keys: Keys
) -> None:
    csr = factories.csr(keys.devices[1], "device-no-challenge")

    with (
        real_client(scepserver_factory("challenge"), keys, challenge_password=CHALLENGE) as client,
        pytest.raises(ScepConfigError) as raised,
    ):
        client.enroll(csr)

    assert raised.value.code == "SCEP_CSR_WITHOUT_CHALLENGE"


def test_a_rejecting_csr_verifier_is_answered_with_failure(
    scepserver_factory: ServerFactory, keys: Keys
) -> None:
    csr = factories.csr(keys.devices[2], "device-verifier-says-no")

    with real_client(scepserver_factory("rejecting"), keys) as client:
        result = client.enroll(csr)

    assert result.status is PkiStatus.FAILURE
    assert result.fail_info == "badRequest"


def test_micromdm_answers_des_cbc_in_a_constructed_octet_string(
    scepserver_factory: ServerFactory, keys: Keys
) -> None:
    """Pins the quirk the client must survive: seen on the wire from scepserver 2.1.0."""
    session = RecordingSession()
    csr = factories.csr(keys.devices[3], "device-quirk")
    with real_client(scepserver_factory("open"), keys, session=session) as client:
        result = client.enroll(csr)
        chain = client.get_ca_cert()

    assert result.status is PkiStatus.SUCCESS
    cert_rep = session.bodies[-2]  # the PKIOperation reply (GetCACert came after it)
    signed = cms.open_signed_data(cert_rep, [chain.ca], "CertRep")
    signer_info = asn1_cms.ContentInfo.load(cert_rep)["content"]["signer_infos"][0]
    # SHA-1 although the request was signed with SHA-256 and the CA advertises SHA-256.
    assert signer_info["digest_algorithm"]["algorithm"].native == "sha1"
    envelope = asn1_cms.ContentInfo.load(signed.content)["content"]
    eci = envelope["encrypted_content_info"]
    # DES-CBC although the request was AES-128 and the CA advertises AES.
    assert eci["content_encryption_algorithm"]["algorithm"].native == "des"
    # [0] IMPLICIT OCTET STRING sent *constructed* with a definite length: A0 82 .. 04 82 ..
    raw = eci.contents
    _, method, tag, _, contents, _ = parser.parse(raw[_third_element_offset(raw) :])
    assert (method, tag) == (1, 0)
    assert contents[0] == 0x04
    with pytest.raises(ValueError, match="method should have been primitive"):
        eci["encrypted_content"].native  # noqa: B018  (asn1crypto's strict CMS schema refuses)


def _third_element_offset(raw: bytes) -> int:
    """Offset of the third element (encryptedContent) inside EncryptedContentInfo's contents."""
    pointer = 0
    for _ in range(2):
        _, _, _, header, contents, trailer = parser.parse(raw[pointer:])
        pointer += len(header) + len(contents) + len(trailer)
    return pointer
