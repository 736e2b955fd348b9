"""Whatever a CA (or an attacker in its place) sends, the client raises only `ScepError`s."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hermod_core.scep import cms, message
from hermod_core.scep.ciphers import ContentCipher
from hermod_core.scep.client import _parse_ca_certs
from hermod_core.scep.csr import public_key_der
from hermod_core.scep.errors import ScepError
from hermod_core.scep.results import PkiStatus
from tests.hermod_core.scep import ber, factories
from tests.hermod_core.scep.conftest import Keys

TID = "FUZZ-TRANSACTION"
NONCE = bytes(16)
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + ber._length(len(content)) + content


# Random BER trees get much deeper into the parser than random bytes do.
_leaves = st.builds(
    _tlv,
    st.sampled_from([0x02, 0x04, 0x05, 0x06, 0x13, 0x17, 0x80, 0x81]),
    st.binary(max_size=40),
)
ber_trees = st.recursive(
    _leaves,
    lambda children: st.builds(
        lambda tag, parts, indefinite: ber.cons(tag, *parts, indefinite=indefinite),
        st.sampled_from([0x30, 0x31, 0xA0, 0xA1, 0x24]),
        st.lists(children, max_size=5),
        st.booleans(),
    ),
    max_leaves=30,
)


@pytest.fixture(scope="module")
def valid_replies(keys: Keys) -> list[bytes]:
    issued = factories.issue(
        factories.name("fuzz"), keys.devices[0].public_key(), keys.ca_key, keys.ca_cert
    )
    common = {
        "transaction_id": TID,
        "recipient_nonce": NONCE,
        "signer_key": keys.ca_key,
        "signer_cert": keys.ca_cert,
    }
    der_reply = factories.build_cert_rep(
        status=PkiStatus.SUCCESS,
        sender_nonce=os.urandom(16),
        recipient=keys.ra_cert,
        issued=[issued],
        cipher=ContentCipher.DES_CBC,
        **common,  # type: ignore[arg-type]
    )
    ber_reply = ber.ber_success_cert_rep(
        issued=[issued],
        recipient=keys.ra_cert,
        cipher=ContentCipher.DES3_CBC,
        indefinite=True,
        **common,  # type: ignore[arg-type]
    )
    return [der_reply, ber_reply]


def _read(keys: Keys, data: bytes) -> None:
    with contextlib.suppress(ScepError):
        message.read_cert_rep(
            data,
            trusted=[keys.ca_cert],
            transaction_id=TID,
            sender_nonce=NONCE,
            ra_key=keys.ra_key,
            ra_cert=keys.ra_cert,
            csr_public_key=public_key_der(keys.ra_cert),
        )


def test_the_valid_fuzz_seeds_really_parse(keys: Keys, valid_replies: list[bytes]) -> None:
    for reply in valid_replies:
        result = message.read_cert_rep(
            reply,
            trusted=[keys.ca_cert],
            transaction_id=TID,
            sender_nonce=NONCE,
            ra_key=keys.ra_key,
            ra_cert=keys.ra_cert,
            csr_public_key=public_key_der(
                factories.issue(
                    factories.name("x"), keys.devices[0].public_key(), keys.ca_key, keys.ca_cert
                )
            ),
        )
        assert result.status is PkiStatus.SUCCESS


@FUZZ
@given(data=st.binary(max_size=3000))
def test_arbitrary_bytes_raise_only_scep_errors(keys: Keys, data: bytes) -> None:
    _read(keys, data)


@FUZZ
@given(data=ber_trees)
def test_arbitrary_ber_trees_raise_only_scep_errors(keys: Keys, data: bytes) -> None:
    _read(keys, data)
    with contextlib.suppress(ScepError):
        cms.signed_data_certificates(data, "fuzz")
    with contextlib.suppress(ScepError):
        _parse_ca_certs("application/x-x509-ca-ra-cert", data)


@FUZZ
@given(
    seed=st.integers(min_value=0, max_value=1),
    edits=st.lists(
        st.tuples(st.floats(min_value=0, max_value=1), st.integers(0, 255)), min_size=1, max_size=6
    ),
    cut=st.floats(min_value=0, max_value=1),
)
def test_mutated_certreps_raise_only_scep_errors(
    keys: Keys,
    valid_replies: list[bytes],
    seed: int,
    edits: list[tuple[float, int]],
    cut: float,
) -> None:
    reply = bytearray(valid_replies[seed])
    for where, byte in edits:
        reply[int(where * (len(reply) - 1))] = byte
    _read(keys, bytes(reply))
    _read(keys, bytes(reply[: int(cut * len(reply))]))
