from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hermod_core.crypto.digests import b64url_decode, b64url_encode
from hermod_core.crypto.errors import ErrorCode
from hermod_core.crypto.jwk import (
    PrivateKey,
    jwk_from_public_key,
    public_key_from_jwk,
    public_keys_equal,
)
from hermod_core.crypto.jws import (
    ALLOWED_ALGORITHMS,
    MAX_TOKEN_CHARS,
    ParsedJws,
    header_public_key,
    parse_compact,
    payload_json,
    sign_compact,
    verify,
    verify_compact,
    verify_with_header_jwk,
)

from . import vectors
from .helpers import b64url, forge, forge_hs256, forge_rs256, header_b64, raises_code

PAYLOAD = {"tbs": ["ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"], "nonce": "18092"}

ALG_KEYS = [
    ("RS256", "rsa2048"),
    ("RS384", "rsa3072"),
    ("RS512", "rsa4096"),
    ("PS256", "rsa2048"),
    ("PS384", "rsa2048"),
    ("PS512", "rsa3072"),
    ("ES256", "p256"),
    ("ES384", "p384"),
    ("ES512", "p521"),
]


def _key(request: pytest.FixtureRequest, name: str) -> PrivateKey:
    key: PrivateKey = request.getfixturevalue(name)
    return key


def _app_attestation_jwk(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The attestation JWK as a Java app writes it: sign byte in `n`, extra members."""
    jwk = jwk_from_public_key(key.public_key(), kid="attestation", keystate="ACTIVE")
    jwk["n"] = b64url_encode(b"\x00" + b64url_decode(str(jwk["n"])))
    jwk["n#len"] = key.key_size
    return jwk


def _tamper_payload(token: str) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64url(json.dumps({**PAYLOAD, 'nonce': 'other'}).encode())}.{signature}"


def _tamper_signature(token: str) -> str:
    head, signature = token.rsplit(".", 1)
    raw = bytearray(b64url_decode(signature))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{b64url(bytes(raw))}"


# --- Known-answer vectors -------------------------------------------------------------------


def test_it_verifies_the_rfc7515_es256_example() -> None:
    parsed = verify_compact(vectors.RFC7515_A3_TOKEN, public_key_from_jwk(vectors.RFC7515_A3_JWK))
    assert parsed.alg == "ES256"
    assert parsed.payload == vectors.RFC7515_A3_PAYLOAD
    assert payload_json(parsed) == {
        "iss": "joe",
        "exp": 1300819380,
        "http://example.com/is_root": True,
    }


def test_it_verifies_the_rfc7515_es512_example() -> None:
    parsed = verify_compact(vectors.RFC7515_A4_TOKEN, public_key_from_jwk(vectors.RFC7515_A4_JWK))
    assert parsed.payload == b"Payload"


def test_it_rejects_the_rfc7515_example_with_a_flipped_signature_bit() -> None:
    key = public_key_from_jwk(vectors.RFC7515_A3_JWK)
    with raises_code(ErrorCode.JWS_BAD_SIGNATURE):
        verify_compact(_tamper_signature(vectors.RFC7515_A3_TOKEN), key)


# --- Round trips and interoperability -------------------------------------------------------


@pytest.mark.parametrize(("alg", "fixture"), ALG_KEYS)
def test_it_verifies_what_it_signs_for_every_allowed_algorithm(
    alg: str, fixture: str, request: pytest.FixtureRequest
) -> None:
    key = _key(request, fixture)
    token = sign_compact(PAYLOAD, key, alg, {"kid": "signer", "nonce": "n-1"})
    parsed = verify_compact(token, key.public_key())
    assert parsed.header == {"alg": alg, "kid": "signer", "nonce": "n-1"}
    assert payload_json(parsed) == PAYLOAD


@pytest.mark.parametrize(("alg", "fixture"), ALG_KEYS)
def test_it_interoperates_with_pyjwt_in_both_directions(
    alg: str, fixture: str, request: pytest.FixtureRequest
) -> None:
    key = _key(request, fixture)
    theirs = pyjwt.encode(PAYLOAD, key, algorithm=alg)
    assert payload_json(verify_compact(theirs, key.public_key())) == PAYLOAD
    ours = sign_compact(PAYLOAD, key, alg)
    assert pyjwt.decode(ours, key.public_key(), algorithms=[alg]) == PAYLOAD


def test_it_verifies_a_provisioning_answer_with_the_app_style_header_jwk(
    rsa2048: rsa.RSAPrivateKey,
) -> None:
    header = {
        "jwk": _app_attestation_jwk(rsa2048),
        "nonce": "123456789",
        "fqdn": "hermod.example.com",
        "sch": "x",
    }
    token = sign_compact({"profile": {"userid": "userA"}}, rsa2048, "RS256", header)
    parsed = verify_with_header_jwk(token)
    assert parsed.header["nonce"] == "123456789"
    assert public_keys_equal(header_public_key(parsed), rsa2048.public_key())


def test_it_signs_raw_bytes_payloads_unchanged(p256: ec.EllipticCurvePrivateKey) -> None:
    parsed = verify_compact(sign_compact(b"\x00\xffraw", p256, "ES256"), p256.public_key())
    assert parsed.payload == b"\x00\xffraw"
    assert len(parsed.signature) == 64


# --- Tampering and wrong keys ---------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper", [_tamper_payload, _tamper_signature], ids=["payload", "signature"]
)
@pytest.mark.parametrize(("alg", "fixture"), ALG_KEYS)
def test_it_rejects_a_tampered_payload_or_signature(
    alg: str, fixture: str, tamper: Callable[[str], str], request: pytest.FixtureRequest
) -> None:
    key = _key(request, fixture)
    with raises_code(ErrorCode.JWS_BAD_SIGNATURE):
        verify_compact(tamper(sign_compact(PAYLOAD, key, alg)), key.public_key())


def test_it_rejects_a_tampered_header(rsa2048: rsa.RSAPrivateKey) -> None:
    token = sign_compact(PAYLOAD, rsa2048, "RS256", {"nonce": "a"})
    _, payload, signature = token.split(".")
    forged = f"{header_b64({'alg': 'RS256', 'nonce': 'b'})}.{payload}.{signature}"
    with raises_code(ErrorCode.JWS_BAD_SIGNATURE):
        verify_compact(forged, rsa2048.public_key())


def test_it_rejects_a_signature_by_another_key(
    rsa2048: rsa.RSAPrivateKey,
    other_rsa2048: rsa.RSAPrivateKey,
    p256: ec.EllipticCurvePrivateKey,
    other_p256: ec.EllipticCurvePrivateKey,
) -> None:
    with raises_code(ErrorCode.JWS_BAD_SIGNATURE):
        verify_compact(sign_compact(PAYLOAD, rsa2048, "RS256"), other_rsa2048.public_key())
    with raises_code(ErrorCode.JWS_BAD_SIGNATURE):
        verify_compact(sign_compact(PAYLOAD, p256, "ES256"), other_p256.public_key())


def test_it_rejects_a_header_jwk_swapped_for_another_key(
    rsa2048: rsa.RSAPrivateKey, other_rsa2048: rsa.RSAPrivateKey
) -> None:
    token = sign_compact(PAYLOAD, rsa2048, "RS256", {"jwk": _app_attestation_jwk(other_rsa2048)})
    with raises_code(ErrorCode.JWS_BAD_SIGNATURE):
        verify_with_header_jwk(token)


def test_it_rejects_an_es256_signature_in_der_instead_of_raw(
    p256: ec.EllipticCurvePrivateKey,
) -> None:
    signing_input = f"{header_b64({'alg': 'ES256'})}.{b64url(b'x')}"
    der = p256.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    with raises_code(ErrorCode.JWS_BAD_SIGNATURE):
        verify_compact(f"{signing_input}.{b64url(der)}", p256.public_key())


def test_it_rejects_ps256_with_a_salt_other_than_the_hash_length(
    rsa2048: rsa.RSAPrivateKey,
) -> None:
    # RFC 7518 §3.5 fixes the salt length; the maximum-length salt some libraries use is refused.
    signing_input = f"{header_b64({'alg': 'PS256'})}.{b64url(b'x')}"
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
    signature = rsa2048.sign(signing_input.encode(), pss, hashes.SHA256())
    with raises_code(ErrorCode.JWS_BAD_SIGNATURE):
        verify_compact(f"{signing_input}.{b64url(signature)}", rsa2048.public_key())


def test_it_rejects_an_empty_signature(rsa2048: rsa.RSAPrivateKey) -> None:
    with raises_code(ErrorCode.JWS_BAD_SIGNATURE):
        verify_compact(forge({"alg": "RS256"}, b"{}", b""), rsa2048.public_key())


# --- Algorithm allow-list and key fit -------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_it_rejects_alg_none(alg: str, rsa2048: rsa.RSAPrivateKey) -> None:
    token = forge({"alg": alg}, json.dumps(PAYLOAD).encode(), b"")
    with raises_code(ErrorCode.JWS_ALG_NOT_ALLOWED):
        verify_compact(token, rsa2048.public_key())
    jwk_token = forge({"alg": alg, "jwk": _app_attestation_jwk(rsa2048)}, b"{}", b"")
    with raises_code(ErrorCode.JWS_ALG_NOT_ALLOWED):
        verify_with_header_jwk(jwk_token)


def test_it_rejects_hs256_keyed_with_the_rsa_public_key(rsa2048: rsa.RSAPrivateKey) -> None:
    # The classic confusion attack: an HMAC "signed" with the public key everyone knows.
    public = rsa2048.public_key()
    for secret in (
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    ):
        with raises_code(ErrorCode.JWS_ALG_NOT_ALLOWED):
            verify_compact(forge_hs256({"alg": "HS256"}, b"{}", secret), public)
        header = {"alg": "HS256", "jwk": _app_attestation_jwk(rsa2048)}
        with raises_code(ErrorCode.JWS_ALG_NOT_ALLOWED):
            verify_with_header_jwk(forge_hs256(header, b"{}", secret))


@pytest.mark.parametrize(
    "alg", ["HS256", "HS384", "HS512", "RS1", "ES256K", "EdDSA", "RSA-OAEP", "", " RS256", "rs256"]
)
def test_it_rejects_algorithms_outside_the_allow_list(alg: str, rsa2048: rsa.RSAPrivateKey) -> None:
    token = forge({"alg": alg}, b"{}", b"\x00" * 256)
    with raises_code(ErrorCode.JWS_ALG_NOT_ALLOWED):
        verify_compact(token, rsa2048.public_key())


def test_it_allows_exactly_the_protocol_algorithms() -> None:
    assert {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"} <= (
        ALLOWED_ALGORITHMS
    )
    assert ALLOWED_ALGORITHMS - {"ES512"} == {
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
    }  # fmt: skip


def test_pyjwt_is_only_ever_given_the_allowed_algorithms() -> None:
    # The PyJWS behind `verify` and `sign_compact` knows no other algorithm, so even a bug in our
    # checks could not reach HMAC or `none`.
    from hermod_core.crypto.jws import _PYJWS

    for alg in ALLOWED_ALGORITHMS:
        _PYJWS.get_algorithm_by_name(alg)
    for alg in ("HS256", "none", "EdDSA", "ES256K"):
        with pytest.raises(NotImplementedError):
            _PYJWS.get_algorithm_by_name(alg)


def test_an_unencoded_b64_payload_is_malformed_not_an_error(rsa2048: rsa.RSAPrivateKey) -> None:
    # RFC 7797 without `crit` (which we refuse anyway): the signature would cover other bytes.
    token = forge({"alg": "RS256", "b64": False}, json.dumps(PAYLOAD).encode(), b"\x00" * 256)
    with raises_code(ErrorCode.JWS_MALFORMED):
        verify_compact(token, rsa2048.public_key())


def test_signed_tokens_carry_the_given_header_and_no_jwt_typ(
    p256: ec.EllipticCurvePrivateKey,
) -> None:
    header = parse_compact(sign_compact(PAYLOAD, p256, "ES256", {"kid": "k1"})).header
    assert header == {"alg": "ES256", "kid": "k1"}


def test_it_rejects_es256_with_a_p384_key(p384: ec.EllipticCurvePrivateKey) -> None:
    token = sign_compact(PAYLOAD, p384, "ES384")
    _, payload, signature = token.split(".")
    with raises_code(ErrorCode.JWS_ALG_KEY_MISMATCH):
        verify_compact(f"{header_b64({'alg': 'ES256'})}.{payload}.{signature}", p384.public_key())
    with raises_code(ErrorCode.JWS_ALG_KEY_MISMATCH):
        sign_compact(PAYLOAD, p384, "ES256")


@pytest.mark.parametrize(
    ("alg", "fixture"),
    [
        ("ES384", "p256"),
        ("ES512", "p384"),
        ("RS256", "p256"),
        ("PS256", "p384"),
        ("ES256", "rsa2048"),
    ],
)
def test_it_rejects_an_algorithm_that_does_not_fit_the_key(
    alg: str, fixture: str, request: pytest.FixtureRequest
) -> None:
    key = _key(request, fixture)
    with raises_code(ErrorCode.JWS_ALG_KEY_MISMATCH):
        verify_compact(forge({"alg": alg}, b"{}", b"\x01" * 64), key.public_key())
    with raises_code(ErrorCode.JWS_ALG_KEY_MISMATCH):
        sign_compact(PAYLOAD, key, alg)


def test_it_rejects_an_rsa_1024_key(rsa1024: rsa.RSAPrivateKey) -> None:
    token = forge_rs256({"alg": "RS256"}, b"{}", rsa1024)
    with raises_code(ErrorCode.JWS_ALG_KEY_MISMATCH):
        verify_compact(token, rsa1024.public_key())
    header = {"alg": "RS256", "jwk": jwk_from_public_key(rsa1024.public_key())}
    with raises_code(ErrorCode.JWK_INVALID):
        verify_with_header_jwk(forge_rs256(header, b"{}", rsa1024))
    with raises_code(ErrorCode.JWS_ALG_KEY_MISMATCH):
        sign_compact(PAYLOAD, rsa1024, "RS256")


def test_it_rejects_a_key_that_is_not_a_key_object() -> None:
    token = forge({"alg": "RS256"}, b"{}", b"x")
    with raises_code(ErrorCode.JWS_ALG_KEY_MISMATCH):
        verify_compact(token, b"secret")  # type: ignore[arg-type]


def test_sign_compact_refuses_forbidden_algorithms_and_an_alg_in_the_extra_header(
    rsa2048: rsa.RSAPrivateKey,
) -> None:
    for alg in ("none", "HS256"):
        with raises_code(ErrorCode.JWS_ALG_NOT_ALLOWED):
            sign_compact(PAYLOAD, rsa2048, alg)
    with pytest.raises(ValueError, match="alg"):
        sign_compact(PAYLOAD, rsa2048, "RS256", {"alg": "none"})


# --- Structure ------------------------------------------------------------------------------


def _token(header: str | dict[str, Any] = "", payload: str = "e30", signature: str = "AA") -> str:
    encoded = header_b64({"alg": "RS256"}) if header == "" else header
    if isinstance(encoded, dict):
        encoded = header_b64(encoded)
    return f"{encoded}.{payload}.{signature}"


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (None, "not a string"),
        (b"a.b.c", "bytes"),
        ("", "empty"),
        ("abc", "one part"),
        ("a.b", "two parts"),
        (_token() + ".AA.AA", "five parts (a JWE)"),
        (_token() + "=", "padded signature"),
        (" " + _token(), "leading whitespace"),
        (_token() + "\n", "trailing newline"),
        (_token(payload="e30="), "padded payload"),
        (_token(payload="e3+"), "standard alphabet"),
        (_token(header=b64url(b"not json")), "header not JSON"),
        (_token(header=b64url(b"[]")), "header is an array"),
        (_token(header=b64url(b"\xff\xfe{}")), "header not UTF-8"),
        (_token(header=b64url(b'{"alg":"RS256","alg":"none"}')), "duplicate alg"),
        (_token(header=b64url(b'{"alg":"RS256","x":NaN}')), "NaN constant"),
        (_token(header=b64url(b'{"alg":"RS256","x":' + b"9" * 5000 + b"}")), "huge integer"),
        (_token(header={"typ": "JWT"}), "no alg"),
        (_token(header={"alg": 256}), "alg not a string"),
        (_token(header={"alg": None}), "alg null"),
        (_token(header={"alg": "RS256", "crit": ["b64"], "b64": False}), "crit"),
        (_token(header=b64url(b'{"alg":"RS256","x":"\\ud800"}')), "lone surrogate value"),
        (_token(header=b64url(b'{"alg":"RS256","\\udfff":1}')), "lone surrogate key"),
        (
            _token(
                header={
                    "alg": "RS256",
                    "x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
                }
            ),
            "too deep",
        ),
    ],
)
def test_it_rejects_a_malformed_token(token: object, why: str) -> None:
    with raises_code(ErrorCode.JWS_MALFORMED):
        parse_compact(token)


def test_it_survives_json_nested_deeper_than_the_recursion_limit() -> None:
    deep = b'{"alg":"RS256","x":' + b"[" * 60_000 + b"]" * 60_000 + b"}"
    with raises_code(ErrorCode.JWS_MALFORMED):
        parse_compact(_token(header=b64url(deep)))


def test_it_rejects_a_token_over_the_size_limit() -> None:
    token = _token(payload="A" * MAX_TOKEN_CHARS)
    with raises_code(ErrorCode.JWS_TOO_LARGE):
        parse_compact(token)


def test_it_exposes_the_exact_signing_input_and_parts() -> None:
    parsed = parse_compact(vectors.RFC7515_A3_TOKEN)
    head, payload, signature = vectors.RFC7515_A3_TOKEN.split(".")
    assert parsed.signing_input == f"{head}.{payload}".encode()
    assert parsed.header == {"alg": "ES256"}
    assert parsed.signature == b64url_decode(signature)


def _parsed_with_payload(payload: bytes) -> ParsedJws:
    return parse_compact(forge({"alg": "RS256"}, payload, b"x"))


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"[]",
        b'"text"',
        b"not json",
        b'{"a":1,"a":2}',
        b"\xff",
        b'{"a":' + b"[" * 40 + b"]" * 40 + b"}",
    ],
)
def test_payload_json_rejects_anything_but_a_strict_json_object(payload: bytes) -> None:
    with raises_code(ErrorCode.JWS_MALFORMED):
        payload_json(_parsed_with_payload(payload))


def test_header_public_key_requires_a_jwk_object(rsa2048: rsa.RSAPrivateKey) -> None:
    with raises_code(ErrorCode.JWS_MALFORMED):
        verify_with_header_jwk(sign_compact(PAYLOAD, rsa2048, "RS256"))
    with raises_code(ErrorCode.JWS_MALFORMED):
        verify_with_header_jwk(sign_compact(PAYLOAD, rsa2048, "RS256", {"jwk": "AQAB"}))
    with raises_code(ErrorCode.JWK_INVALID):
        verify_with_header_jwk(sign_compact(PAYLOAD, rsa2048, "RS256", {"jwk": {"kty": "oct"}}))


def test_verify_reads_the_algorithm_from_the_parsed_header(
    rsa2048: rsa.RSAPrivateKey,
) -> None:
    parsed = parse_compact(sign_compact(PAYLOAD, rsa2048, "PS256"))
    assert parsed.alg == "PS256"
    verify(parsed, rsa2048.public_key())
