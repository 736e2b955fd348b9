"""Compact JWS (RFC 7515) parsing, verification and signing, on `cryptography` directly.

The algorithm allow-list is ours and closed: RS256/384/512, PS256/384/512, ES256/384/512. `none`,
every HMAC and anything unknown is `JWS_ALG_NOT_ALLOWED` before a key is touched, so the classic
confusions (alg `none`; HS256 keyed with the RSA public key) cannot happen (docs/PROTOCOL.md
§6.2.1). The key must fit the algorithm: RS*/PS* need RSA of at least 2048 bits, ES256/384/512 need
P-256/384/521 — else `JWS_ALG_KEY_MISMATCH`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from hermod_core.crypto.digests import b64url_decode, b64url_encode
from hermod_core.crypto.errors import CryptoError, ErrorCode, JwsError
from hermod_core.crypto.jwk import RSA_MIN_BITS, PrivateKey, PublicKey, public_key_from_jwk

# A provisioning answer with 8 RSA-4096 keys and their CSRs is about 40 KiB; 256 KiB leaves
# room and still bounds the work an anonymous device can ask for.
MAX_TOKEN_CHARS: Final = 256 * 1024
# Deeper JSON than this is never legitimate here and could exhaust recursion in later consumers.
MAX_JSON_DEPTH: Final = 32


@dataclass(frozen=True)
class _Algorithm:
    family: Literal["RS", "PS", "ES"]
    hash: type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]
    curve: str | None = None  # cryptography curve name, ES only
    coordinate_bytes: int = 0  # ES only: length of r and of s in the raw signature


_ALGORITHMS: Final[dict[str, _Algorithm]] = {
    "RS256": _Algorithm("RS", hashes.SHA256),
    "RS384": _Algorithm("RS", hashes.SHA384),
    "RS512": _Algorithm("RS", hashes.SHA512),
    "PS256": _Algorithm("PS", hashes.SHA256),
    "PS384": _Algorithm("PS", hashes.SHA384),
    "PS512": _Algorithm("PS", hashes.SHA512),
    "ES256": _Algorithm("ES", hashes.SHA256, "secp256r1", 32),
    "ES384": _Algorithm("ES", hashes.SHA384, "secp384r1", 48),
    "ES512": _Algorithm("ES", hashes.SHA512, "secp521r1", 66),
}
ALLOWED_ALGORITHMS: Final = frozenset(_ALGORITHMS)


@dataclass(frozen=True)
class ParsedJws:
    """A structurally valid compact JWS; NOT verified — call `verify` before trusting it.

    `header` is a JSON object with a string `alg`, no duplicate members, no `crit`, at most
    `MAX_JSON_DEPTH` deep. `signing_input` is the exact bytes the signature covers.
    """

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        alg: str = self.header["alg"]
        return alg


def _malformed(message: str) -> JwsError:
    return JwsError(ErrorCode.JWS_MALFORMED, message)


class _RejectedJson(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two parsers may pick different duplicates; refusing them removes the ambiguity.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _RejectedJson("duplicate member")
    return result


def _no_constant(name: str) -> Any:
    raise _RejectedJson(f"{name} is not JSON")


def _json_problem(value: object, limit: int) -> str | None:
    """Why `value` is not acceptable I-JSON (RFC 7493) for us, or None if it is.

    Iterative, so checking depth cannot itself recurse too deep. Lone surrogates (`"\\ud800"`)
    are refused because they are not Unicode text: the first consumer that encodes them (a
    database, a log line) would fail far from here.
    """
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "contains a lone surrogate"
        elif isinstance(item, dict | list):
            if depth > limit:
                return "is nested too deeply"
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return None


def _strict_json(data: bytes, what: str) -> object:
    try:
        value: object = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, duplicates, NaN and over-long integers.
        raise _malformed(f"The {what} is not strict UTF-8 JSON.") from exc
    problem = _json_problem(value, MAX_JSON_DEPTH)
    if problem is not None:
        raise _malformed(f"The {what} {problem}.")
    return value


def parse_compact(token: object) -> ParsedJws:
    """Split and decode a compact JWS; raises `JwsError` only (`JWS_MALFORMED`, `JWS_TOO_LARGE`).

    Strict: exactly three canonical base64url parts, no whitespace, a header that is a JSON object
    with a string `alg`. A `crit` header is refused (RFC 7515 §4.1.11: we understand no
    extension). An empty payload is structurally allowed; it will simply not verify as anything.
    """
    if not isinstance(token, str):
        raise _malformed("A compact JWS must be a string.")
    if len(token) > MAX_TOKEN_CHARS:
        raise JwsError(ErrorCode.JWS_TOO_LARGE, f"A JWS may be at most {MAX_TOKEN_CHARS} chars.")
    parts = token.split(".")
    if len(parts) != 3:
        raise _malformed("A compact JWS has exactly three dot-separated parts.")
    header_b64, payload_b64, signature_b64 = parts
    try:
        header_bytes = b64url_decode(header_b64)
        payload = b64url_decode(payload_b64)
        signature = b64url_decode(signature_b64)
    except CryptoError as exc:
        raise _malformed("A JWS part is not canonical base64url.") from exc
    header = _strict_json(header_bytes, "JWS header")
    if not isinstance(header, dict):
        raise _malformed("The JWS header is not a JSON object.")
    if not isinstance(header.get("alg"), str):
        raise _malformed("The JWS header has no string 'alg'.")
    if "crit" in header:
        raise _malformed("The JWS header names critical extensions this server does not know.")
    return ParsedJws(
        header=header,
        payload=payload,
        signing_input=f"{header_b64}.{payload_b64}".encode("ascii"),
        signature=signature,
    )


def _algorithm(alg: object) -> _Algorithm:
    spec = _ALGORITHMS.get(alg) if isinstance(alg, str) else None
    if spec is None:
        raise JwsError(ErrorCode.JWS_ALG_NOT_ALLOWED, f"Algorithm {alg!r} is not allowed.")
    return spec


def _check_key(spec: _Algorithm, key: object) -> None:
    if spec.family in ("RS", "PS"):
        if not isinstance(key, rsa.RSAPublicKey):
            raise JwsError(ErrorCode.JWS_ALG_KEY_MISMATCH, "RS/PS algorithms need an RSA key.")
        if key.key_size < RSA_MIN_BITS:
            raise JwsError(
                ErrorCode.JWS_ALG_KEY_MISMATCH, f"RSA keys need at least {RSA_MIN_BITS} bits."
            )
    elif not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != spec.curve:
        raise JwsError(ErrorCode.JWS_ALG_KEY_MISMATCH, "The EC algorithm does not fit this key.")


def _pss(spec: _Algorithm) -> padding.PSS:
    # RFC 7518 §3.5: the salt is as long as the hash output.
    return padding.PSS(mgf=padding.MGF1(spec.hash()), salt_length=spec.hash.digest_size)


def verify(parsed: ParsedJws, key: PublicKey) -> None:
    """Return only if `parsed` is signed by `key` with an allowed algorithm that fits the key.

    Raises `JwsError`: `JWS_ALG_NOT_ALLOWED`, `JWS_ALG_KEY_MISMATCH` or `JWS_BAD_SIGNATURE`.
    """
    spec = _algorithm(parsed.header.get("alg"))
    _check_key(spec, key)
    bad = JwsError(ErrorCode.JWS_BAD_SIGNATURE, "The JWS signature does not verify.")
    try:
        if isinstance(key, rsa.RSAPublicKey):
            pad = padding.PKCS1v15() if spec.family == "RS" else _pss(spec)
            key.verify(parsed.signature, parsed.signing_input, pad, spec.hash())
        else:
            # JWS carries ECDSA as fixed-width r||s (RFC 7518 §3.4), not DER.
            size = spec.coordinate_bytes
            if len(parsed.signature) != 2 * size:
                raise bad
            r = int.from_bytes(parsed.signature[:size], "big")
            s = int.from_bytes(parsed.signature[size:], "big")
            key.verify(encode_dss_signature(r, s), parsed.signing_input, ec.ECDSA(spec.hash()))
    except InvalidSignature as exc:
        raise bad from exc


def verify_compact(token: object, key: PublicKey) -> ParsedJws:
    """`parse_compact` then `verify`; the parsed token once it verified with `key`."""
    parsed = parse_compact(token)
    verify(parsed, key)
    return parsed


def header_public_key(parsed: ParsedJws) -> PublicKey:
    """The public key in the protected header's `jwk` (`JWS_MALFORMED` / `JWK_INVALID`)."""
    jwk = parsed.header.get("jwk")
    if not isinstance(jwk, dict):
        raise _malformed("The JWS header has no 'jwk' object.")
    return public_key_from_jwk(jwk)


def verify_with_header_jwk(token: object) -> ParsedJws:
    """Parse and verify a JWS with the key in its own header (docs/PROTOCOL.md §6.1 attestation).

    This proves only possession of that key; whether the key is trusted is the caller's decision
    (group trust list, key fingerprint). Use `header_public_key` to get the key.
    """
    parsed = parse_compact(token)
    verify(parsed, header_public_key(parsed))
    return parsed


def payload_json(parsed: ParsedJws) -> dict[str, Any]:
    """The payload as a JSON object (strict like the header), else `JWS_MALFORMED`."""
    value = _strict_json(parsed.payload, "JWS payload")
    if not isinstance(value, dict):
        raise _malformed("The JWS payload is not a JSON object.")
    return value


def sign_compact(
    payload: bytes | Mapping[str, Any],
    private_key: PrivateKey,
    alg: str,
    extra_header: Mapping[str, Any] | None = None,
) -> str:
    """A compact JWS of `payload` (bytes, or a JSON object serialised compactly) by `private_key`.

    For the reference device and tests. The same allow-list and key rules as `verify` apply
    (`JwsError`); `extra_header` may not set `alg` (ValueError: a programming error).
    """
    spec = _algorithm(alg)
    _check_key(spec, private_key.public_key())
    extra = dict(extra_header or {})
    if "alg" in extra:
        raise ValueError("pass the algorithm as `alg`, not in extra_header")
    header = {"alg": alg, **extra}
    body = (
        payload
        if isinstance(payload, bytes)
        else json.dumps(dict(payload), separators=(",", ":"), ensure_ascii=False).encode()
    )
    header_b64 = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    signing_input = f"{header_b64}.{b64url_encode(body)}".encode("ascii")
    if isinstance(private_key, rsa.RSAPrivateKey):
        pad = padding.PKCS1v15() if spec.family == "RS" else _pss(spec)
        signature = private_key.sign(signing_input, pad, spec.hash())
    else:
        r, s = decode_dss_signature(private_key.sign(signing_input, ec.ECDSA(spec.hash())))
        size = spec.coordinate_bytes
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return f"{signing_input.decode('ascii')}.{b64url_encode(signature)}"
