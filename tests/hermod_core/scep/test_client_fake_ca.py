"""The SCEP client against the fake CA: polling, tampered replies, HTTP failures, cipher choice."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from hermod_core.scep.ciphers import ContentCipher
from hermod_core.scep.client import ScepClient, ScepConfig
from hermod_core.scep.csr import public_key_der
from hermod_core.scep.enrollment import enroll_until_done
from hermod_core.scep.errors import ScepProtocolError, ScepTransientError
from hermod_core.scep.message import CERT_POLL, PKCS_REQ
from hermod_core.scep.results import PkiStatus
from tests.hermod_core.scep import factories
from tests.hermod_core.scep.conftest import Keys
from tests.hermod_core.scep.fake_ca import FakeCa
from tests.required_services import free_port


@pytest.fixture(scope="module")
def csr(keys: Keys) -> bytes:
    return factories.csr(keys.devices[0], "device-fake")


def _client(
    url: str, keys: Keys, *, timeout: float = 5, ca_fingerprint_sha256: str | None = None
) -> ScepClient:
    config = ScepConfig(
        url=url,
        ra_key=keys.ra_key,
        ra_cert=keys.ra_cert,
        timeout=timeout,
        ca_fingerprint_sha256=ca_fingerprint_sha256,
    )
    return ScepClient(config)


def test_it_enrolls_and_picks_the_certificate_holding_the_csr_key(
    fake_client: ScepClient, fake_ca: FakeCa, csr: bytes
) -> None:
    result = fake_client.enroll(csr)

    assert result.status is PkiStatus.SUCCESS
    assert result.certificate is not None
    assert public_key_der(result.certificate) == public_key_der(x509.load_der_x509_csr(csr))
    # The CA sent [CA cert, issued cert]; the issued one comes first, the chain after it.
    assert result.certificates[1] == fake_ca.ca_cert
    assert [s.message_type for s in fake_ca.seen] == [PKCS_REQ]
    assert fake_ca.seen[0].inner == csr  # the device's CSR travels unchanged


def test_pending_is_polled_with_certpoll_until_success(
    fake_client: ScepClient, fake_ca: FakeCa, csr: bytes
) -> None:
    fake_ca.pending_replies = 2

    first = fake_client.enroll(csr)
    second = fake_client.poll(first.transaction_id, csr)
    third = fake_client.poll(first.transaction_id, csr)

    assert [first.status, second.status, third.status] == [
        PkiStatus.PENDING,
        PkiStatus.PENDING,
        PkiStatus.SUCCESS,
    ]
    assert first.certificates == second.certificates == ()
    assert [s.message_type for s in fake_ca.seen] == [PKCS_REQ, CERT_POLL, CERT_POLL]
    assert {s.transaction_id for s in fake_ca.seen} == {first.transaction_id}
    assert third.certificate is not None


def test_enroll_until_done_polls_the_fake_ca_with_backoff_and_no_real_sleep(
    fake_client: ScepClient, fake_ca: FakeCa, csr: bytes
) -> None:
    fake_ca.pending_replies = 3
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += timedelta(seconds=seconds)

    result = enroll_until_done(
        fake_client,
        csr,
        deadline=clock[0] + timedelta(minutes=5),
        sleep=sleep,
        now=lambda: clock[0],
    )

    assert result.status is PkiStatus.SUCCESS
    assert sleeps == [2, 4, 8]


def test_an_explicit_transaction_id_is_used_on_the_wire(
    fake_client: ScepClient, fake_ca: FakeCa, csr: bytes
) -> None:
    result = fake_client.enroll(csr, transaction_id="hermod-cmd-42")

    assert result.transaction_id == "hermod-cmd-42"
    assert fake_ca.seen[0].transaction_id == "hermod-cmd-42"


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ("nonce", "SCEP_NONCE_MISMATCH"),
        ("transaction", "SCEP_TRANSACTION_MISMATCH"),
        ("signature", "SCEP_BAD_SIGNATURE"),
        ("wrong_key", "SCEP_NO_MATCHING_CERTIFICATE"),
        ("recipient", "SCEP_NOT_A_RECIPIENT"),
    ],
)
def test_a_tampered_certrep_is_a_protocol_error(
    fake_client: ScepClient, fake_ca: FakeCa, csr: bytes, tamper: str, code: str
) -> None:
    fake_ca.tamper = tamper

    with pytest.raises(ScepProtocolError) as raised:
        fake_client.enroll(csr)

    assert raised.value.code == code
    assert not raised.value.retryable


def test_a_certrep_signed_by_an_unknown_key_is_refused(
    fake_client: ScepClient, fake_ca: FakeCa, keys: Keys, csr: bytes
) -> None:
    # Same subject name as the CA, different key: only the signature check can tell them apart.
    fake_ca.signer = (keys.rogue_key, keys.rogue_cert)

    with pytest.raises(ScepProtocolError) as raised:
        fake_client.enroll(csr)

    assert raised.value.code == "SCEP_UNKNOWN_SIGNER"


@pytest.mark.parametrize(
    ("digit", "name"),
    [
        ("0", "badAlg"),
        ("1", "badMessageCheck"),
        ("2", "badRequest"),
        ("3", "badTime"),
        ("4", "badCertId"),
    ],
)
def test_failure_reports_the_fail_info_name(
    fake_client: ScepClient, fake_ca: FakeCa, csr: bytes, digit: str, name: str
) -> None:
    fake_ca.fail_info = digit

    result = fake_client.enroll(csr)

    assert result.status is PkiStatus.FAILURE
    assert result.fail_info == name


@pytest.mark.parametrize("cipher", list(ContentCipher))
def test_every_reply_cipher_decrypts(
    fake_client: ScepClient, fake_ca: FakeCa, csr: bytes, cipher: ContentCipher
) -> None:
    fake_ca.reply_cipher = cipher

    assert fake_client.enroll(csr).status is PkiStatus.SUCCESS


@pytest.mark.parametrize("form", ["indefinite", "definite"])
@pytest.mark.parametrize("cipher", [ContentCipher.DES_CBC, ContentCipher.AES_256_CBC])
def test_a_ber_constructed_certrep_is_read(
    fake_client: ScepClient, fake_ca: FakeCa, csr: bytes, form: str, cipher: ContentCipher
) -> None:
    fake_ca.ber_form = form
    fake_ca.reply_cipher = cipher

    result = fake_client.enroll(csr)

    assert result.status is PkiStatus.SUCCESS
    assert result.certificate is not None
    assert public_key_der(result.certificate) == public_key_der(x509.load_der_x509_csr(csr))


@pytest.mark.parametrize(
    ("caps", "http_method", "cipher", "digest"),
    [
        (b"POSTPKIOperation\nSHA-256\nAES\nDES3\n", "POST", "aes128_cbc", "sha256"),
        (b"SCEPStandard\n", "POST", "aes128_cbc", "sha256"),
        (b"postpkioperation\r\ndes3\r\n", "POST", "tripledes_3key", "sha1"),
        (b"DES3\nSHA-256\n", "GET", "tripledes_3key", "sha256"),
        (b"", "GET", "des", "sha1"),
    ],
)
def test_the_request_follows_the_advertised_capabilities(
    fake_client: ScepClient,
    fake_ca: FakeCa,
    csr: bytes,
    caps: bytes,
    http_method: str,
    cipher: str,
    digest: str,
) -> None:
    fake_ca.caps = caps

    assert fake_client.enroll(csr).status is PkiStatus.SUCCESS

    seen = fake_ca.seen[0]
    assert (seen.http_method, seen.cipher, seen.digest) == (http_method, cipher, digest)


def test_a_ca_without_getcacaps_gets_the_default_capabilities(
    fake_client: ScepClient, fake_ca: FakeCa, csr: bytes
) -> None:
    fake_ca.caps_status = 404

    assert fake_client.get_ca_caps() == frozenset()
    assert fake_client.enroll(csr).status is PkiStatus.SUCCESS
    assert (fake_ca.seen[0].http_method, fake_ca.seen[0].cipher) == ("GET", "des")


def test_a_ca_ra_bundle_encrypts_to_the_ra_and_trusts_its_signature(
    fake_ca: FakeCa, keys: Keys, csr: bytes
) -> None:
    ra_key = keys.other_ra_key
    ra_cert = factories.issue(
        factories.name("CA's RA"),
        ra_key.public_key(),
        keys.ca_key,
        keys.ca_cert,
        key_encipherment=True,
    )
    fake_ca.ca_cert_reply = (
        "application/x-x509-ca-ra-cert",
        factories.build_degenerate([ra_cert, keys.ca_cert]),
    )
    fake_ca.encryption = (ra_key, ra_cert)
    fake_ca.signer = (ra_key, ra_cert)

    with _client(fake_ca.url, keys) as client:
        chain = client.get_ca_cert()
        result = client.enroll(csr)

    assert chain.ca == keys.ca_cert
    assert chain.recipient == ra_cert
    assert result.status is PkiStatus.SUCCESS


def test_an_ra_certificate_the_ca_did_not_issue_is_ignored(
    fake_ca: FakeCa, keys: Keys, csr: bytes
) -> None:
    # A self-signed "RA" slipped into the unauthenticated GetCACert answer.
    fake_ca.ca_cert_reply = (
        "application/x-x509-ca-ra-cert",
        factories.build_degenerate([keys.ca_cert, keys.other_ra_cert]),
    )
    fake_ca.signer = (keys.other_ra_key, keys.other_ra_cert)

    with _client(fake_ca.url, keys) as client:
        chain = client.get_ca_cert()
        with pytest.raises(ScepProtocolError) as raised:
            client.enroll(csr)

    assert chain.recipient == keys.ca_cert
    assert keys.other_ra_cert not in chain.certificates
    assert raised.value.code == "SCEP_UNKNOWN_SIGNER"


def test_a_pinned_ca_fingerprint_is_enforced(fake_ca: FakeCa, keys: Keys) -> None:
    right = hashlib.sha256(factories.der(keys.ca_cert)).hexdigest()
    colons = ":".join(right[i : i + 2] for i in range(0, len(right), 2)).upper()

    with _client(fake_ca.url, keys, ca_fingerprint_sha256=colons) as client:
        assert client.get_ca_cert().ca == keys.ca_cert
    with (
        _client(fake_ca.url, keys, ca_fingerprint_sha256="00" * 32) as client,
        pytest.raises(ScepProtocolError) as raised,
    ):
        client.get_ca_cert()

    assert raised.value.code == "SCEP_CA_FINGERPRINT_MISMATCH"


def test_a_garbage_getcacert_answer_is_a_protocol_error(
    fake_client: ScepClient, fake_ca: FakeCa
) -> None:
    fake_ca.ca_cert_reply = ("application/x-x509-ca-cert", b"\x30\x03\x02\x01")

    with pytest.raises(ScepProtocolError) as raised:
        fake_client.get_ca_cert()

    assert raised.value.code == "SCEP_MALFORMED_REPLY"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_server_error_is_transient(
    fake_client: ScepClient, fake_ca: FakeCa, csr: bytes, status: int
) -> None:
    fake_ca.http_status = status

    with pytest.raises(ScepTransientError) as raised:
        fake_client.enroll(csr)

    assert raised.value.retryable
    assert raised.value.code == "SCEP_SERVER_ERROR"


def test_a_client_error_status_is_a_protocol_error(
    fake_client: ScepClient, fake_ca: FakeCa, csr: bytes
) -> None:
    fake_ca.http_status = 400

    with pytest.raises(ScepProtocolError) as raised:
        fake_client.enroll(csr)

    assert raised.value.code == "SCEP_HTTP_STATUS"


def test_connection_refused_is_transient(keys: Keys, csr: bytes) -> None:
    with (
        _client(f"http://127.0.0.1:{free_port()}/scep", keys) as client,
        pytest.raises(ScepTransientError) as raised,
    ):
        client.enroll(csr)

    assert raised.value.code == "SCEP_UNREACHABLE"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_a_read_timeout_is_transient(keys: Keys, silent_port: int) -> None:
    with (
        _client(f"http://127.0.0.1:{silent_port}/scep", keys, timeout=0.2) as client,
        pytest.raises(ScepTransientError) as raised,
    ):
        client.get_ca_caps()

    assert raised.value.code == "SCEP_TIMEOUT"
