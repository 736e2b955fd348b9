"""Property: every parser and verifier raises nothing but CryptoError, whatever it is fed.

Each untrusted blob the server receives (docs/PROTOCOL.md §5.1, §5.2, §6.1-6.3) reaches one of these
functions; an unexpected exception type there would become a 500 instead of a 4xx/422 answer.
Inputs are arbitrary text/bytes/JSON, plus mutations of valid vectors to reach deep parser paths.
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st

from hermod_core.crypto.certs import parse_certificate_b64, parse_certificate_der
from hermod_core.crypto.cms import sign_data, verify_signed_data
from hermod_core.crypto.csr import (
    make_dummy_csr,
    parse_csr_b64,
    parse_csr_der,
    rekey_csr,
    verify_csr_signature,
)
from hermod_core.crypto.errors import CryptoError
from hermod_core.crypto.jwk import PrivateKey, jwk_from_public_key, public_key_from_jwk, thumbprint
from hermod_core.crypto.jws import (
    parse_compact,
    payload_json,
    sign_compact,
    verify_compact,
    verify_with_header_jwk,
)
from hermod_core.emulator import testca

from . import vectors
from .cms_builder import CmsSpec, build_cms
from .helpers import FUZZ, b64url, mutated

SEED_CSR_DER = base64.b64decode(vectors.SEED_DUMMY_CSR_B64)
SEED_CERT_DER = base64.b64decode(vectors.SEED_CERTIFICATE_B64)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
b64url_members = st.binary(max_size=140).map(b64url)
jwk_members = st.sampled_from(["kty", "n", "e", "crv", "x", "y", "d", "kid", "n#len"])
jwk_values = st.one_of(
    st.sampled_from(["RSA", "EC", "oct", "OKP", "P-256", "P-384", "P-521", "AQAB", ""]),
    b64url_members,
    json_values,
)
jwks = st.one_of(
    json_values,
    st.dictionaries(jwk_members, jwk_values, max_size=6),
    st.fixed_dictionaries(
        {"kty": st.just("EC"), "crv": st.sampled_from(["P-256", "P-384", "P-521"])},
        optional={"x": b64url_members, "y": b64url_members},
    ),
    st.fixed_dictionaries(
        {"kty": st.just("RSA")}, optional={"n": b64url_members, "e": b64url_members}
    ),
)


def _only_crypto_errors(call: Any, *args: Any, **kwargs: Any) -> None:
    with contextlib.suppress(CryptoError):
        call(*args, **kwargs)


# --- JWK and JWS ----------------------------------------------------------------------------


@FUZZ
@given(jwks)
def test_public_key_from_jwk_raises_only_crypto_errors(jwk: object) -> None:
    _only_crypto_errors(public_key_from_jwk, jwk)
    _only_crypto_errors(thumbprint, jwk)


@FUZZ
@given(st.text(max_size=400))
def test_parse_compact_raises_only_crypto_errors_for_any_text(token: str) -> None:
    _only_crypto_errors(parse_compact, token)


@FUZZ
@given(
    st.one_of(json_values, st.dictionaries(st.sampled_from(["alg", "jwk", "crit"]), jwks)),
    st.binary(max_size=200),
    st.binary(max_size=140),
)
def test_jws_functions_raise_only_crypto_errors_for_any_json_header(
    header: object, payload: bytes, signature: bytes
) -> None:
    encoded_header = b64url(json.dumps(header).encode())
    token = f"{encoded_header}.{b64url(payload)}.{b64url(signature)}"
    _only_crypto_errors(verify_with_header_jwk, token)
    try:
        parsed = parse_compact(token)
    except CryptoError:
        return
    _only_crypto_errors(payload_json, parsed)


@pytest.fixture(scope="module")
def valid_tokens(
    rsa2048: rsa.RSAPrivateKey, p256: ec.EllipticCurvePrivateKey
) -> list[tuple[str, PrivateKey]]:
    tokens: list[tuple[str, PrivateKey]] = []
    for alg, key in (("RS256", rsa2048), ("PS256", rsa2048), ("ES256", p256)):
        header = {"jwk": jwk_from_public_key(key.public_key()), "nonce": "1"}
        tokens.append((sign_compact({"a": [1, {"b": None}]}, key, alg, header), key))
    return tokens


@FUZZ
@given(data=st.data())
def test_jws_verification_of_mutated_valid_tokens_raises_only_crypto_errors(
    data: st.DataObject, valid_tokens: list[tuple[str, PrivateKey]]
) -> None:
    token, key = data.draw(st.sampled_from(valid_tokens))
    raw = data.draw(mutated(token.encode()))
    text = raw.decode("latin-1")
    _only_crypto_errors(verify_compact, text, key.public_key())
    _only_crypto_errors(verify_with_header_jwk, text)


# --- CSR and certificates -------------------------------------------------------------------


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b64(b))))
def test_csr_and_certificate_parsers_raise_only_crypto_errors_for_any_text(text: str) -> None:
    _only_crypto_errors(parse_csr_b64, text)
    _only_crypto_errors(parse_certificate_b64, text)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@FUZZ
@given(der=mutated(SEED_CSR_DER))
def test_csr_functions_raise_only_crypto_errors_for_mutated_seed_csrs(
    der: bytes, p256: ec.EllipticCurvePrivateKey
) -> None:
    _only_crypto_errors(parse_csr_b64, b64(der))
    try:
        parsed = parse_csr_der(der)
    except CryptoError:
        return
    _only_crypto_errors(verify_csr_signature, parsed)
    _only_crypto_errors(rekey_csr, der, p256)


@pytest.fixture(scope="module")
def csr_with_extensions(rsa2048: rsa.RSAPrivateKey) -> bytes:
    return rekey_csr(make_dummy_csr({"CN": "x"}, challenge_password="pw", key=rsa2048), rsa2048)


@FUZZ
@given(data=st.data())
def test_rekey_raises_only_crypto_errors_for_mutated_templates(
    data: st.DataObject, csr_with_extensions: bytes, p256: ec.EllipticCurvePrivateKey
) -> None:
    _only_crypto_errors(rekey_csr, data.draw(mutated(csr_with_extensions)), p256)


@FUZZ
@given(mutated(SEED_CERT_DER))
def test_certificate_parser_raises_only_crypto_errors_for_mutated_seed_certificates(
    der: bytes,
) -> None:
    _only_crypto_errors(parse_certificate_b64, b64(der))
    _only_crypto_errors(parse_certificate_der, der)


# --- CMS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_cms(
    rsa2048: rsa.RSAPrivateKey,
    p256: ec.EllipticCurvePrivateKey,
    test_ca: tuple[PrivateKey, x509.Certificate],
) -> list[tuple[bytes, PrivateKey]]:
    ca_key, ca_cert = test_ca
    blobs: list[tuple[bytes, PrivateKey]] = []
    for key in (rsa2048, p256):
        cert = testca.issue_certificate(make_dummy_csr({"CN": "s"}, key=key), ca_key, ca_cert)
        blobs += [
            (sign_data(b"tbs", key, cert, detached=False), key),
            (sign_data(b"tbs", key, cert, detached=True), key),
            (build_cms(CmsSpec(b"tbs", key, cert)), key),
            (build_cms(CmsSpec(b"tbs", key, cert, sid="subject_key_identifier")), key),
        ]
    return blobs


@FUZZ
@given(
    blob=st.one_of(st.binary(max_size=300), st.text(max_size=300)),
    content=st.none() | st.binary(max_size=50),
)
def test_verify_signed_data_raises_only_crypto_errors_for_any_input(
    blob: bytes | str, content: bytes | None, rsa2048: rsa.RSAPrivateKey
) -> None:
    _only_crypto_errors(
        verify_signed_data, blob, expected_key=rsa2048.public_key(), content=content
    )


@FUZZ
@given(data=st.data())
def test_verify_signed_data_raises_only_crypto_errors_for_mutated_valid_cms(
    data: st.DataObject, valid_cms: list[tuple[bytes, PrivateKey]]
) -> None:
    der, key = data.draw(st.sampled_from(valid_cms))
    blob = data.draw(mutated(der))
    content = data.draw(st.sampled_from([None, b"tbs", b"other"]))
    _only_crypto_errors(verify_signed_data, blob, expected_key=key.public_key(), content=content)
    _only_crypto_errors(verify_signed_data, b64(blob), expected_key=key.public_key(), content=None)
