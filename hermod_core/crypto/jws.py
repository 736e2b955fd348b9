"""Compact JWS (RFC 7515) for device answers: PyJWT's `PyJWS` under our stricter rules.

PyJWT signs and verifies (one `PyJWS` whose algorithm registry is our closed allow-list:
RS256/384/512, PS256/384/512, ES256/384/512). Around it, what PyJWT leaves to its caller:
a strict parse first (canonical base64url, I-JSON header and payload without duplicate members,
bounded depth and size, no `crit`), `none`, every HMAC and anything unknown refused as
`JWS_ALG_NOT_ALLOWED` before a key is touched, so the classic confusions (alg `none`; HS256 keyed
with the RSA public key) cannot happen (docs/PROTOCOL.md §6.2.1), and the key must fit the
algorithm: RS*/PS* need RSA of at least 2048 bits, ES256/384/512 need P-256/384/521 — else
`JWS_ALG_KEY_MISMATCH`. JWKs stay with `crypto.jwk`: real apps send coordinates with a sign byte
that `PyJWK` refuses (docs/PROTOCOL.md §6.1).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hermod_core.crypto.digests import b64url_decode, b64url_encode
from hermod_core.crypto.errors import CryptoError, ErrorCode, JwsError
from hermod_core.crypto.jwk import RSA_MIN_BITS, PrivateKey, PublicKey, public_key_from_jwk

# A provisioning answer with 8 RSA-4096 keys and their CSRs is about 40 KiB; 256 KiB leaves
# room and still bounds the work an anonymous device can ask for.
MAX_TOKEN_CHARS: Final = 256 * 1024
# Deeper JSON than this is never legitimate here and could exhaust recursion in later consumers.
MAX_JSON_DEPTH: Final = 32


# alg -> the key family it needs, and for EC the cryptography curve name.
_ALGORITHMS: Final[dict[str, tuple[Literal["RSA", "EC"], str | None]]] = {
    **{f"{family}{bits}": ("RSA", None) for family in ("RS", "PS") for bits in (256, 384, 512)},
    "ES256": ("EC", "secp256r1"),
    "ES384": ("EC", "secp384r1"),
    "ES512": ("EC", "secp521r1"),
}
ALLOWED_ALGORITHMS: Final = frozenset(_ALGORITHMS)
# The only algorithms PyJWT is ever asked to use; its registry holds nothing else.
_PYJWS: Final = jwt.PyJWS(algorithms=sorted(ALLOWED_ALGORITHMS))


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


def _algorithm(alg: object) -> str:
    if not isinstance(alg, str) or alg not in _ALGORITHMS:
        raise JwsError(ErrorCode.JWS_ALG_NOT_ALLOWED, f"Algorithm {alg!r} is not allowed.")
    return alg


def _check_key(alg: str, key: object) -> None:
    family, curve = _ALGORITHMS[alg]
    if family == "RSA":
        if not isinstance(key, rsa.RSAPublicKey):
            raise JwsError(ErrorCode.JWS_ALG_KEY_MISMATCH, "RS/PS algorithms need an RSA key.")
        if key.key_size < RSA_MIN_BITS:
            raise JwsError(
                ErrorCode.JWS_ALG_KEY_MISMATCH, f"RSA keys need at least {RSA_MIN_BITS} bits."
            )
    elif not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != curve:
        raise JwsError(ErrorCode.JWS_ALG_KEY_MISMATCH, "The EC algorithm does not fit this key.")


def verify(parsed: ParsedJws, key: PublicKey) -> None:
    """Return only if `parsed` is signed by `key` with an allowed algorithm that fits the key.

    Raises `JwsError`: `JWS_ALG_NOT_ALLOWED`, `JWS_ALG_KEY_MISMATCH` or `JWS_BAD_SIGNATURE`
    (`JWS_MALFORMED` for an unencoded RFC 7797 payload, which no device sends).
    """
    alg = _algorithm(parsed.header.get("alg"))
    _check_key(alg, key)
    if parsed.header.get("b64", True) is not True:
        raise _malformed("An unencoded (b64) JWS payload is not supported.")
    # PyJWT's algorithm, not `decode_complete`: the token is parsed already (strictly), and
    # PyJWT's own parse checks base64 one character at a time in Python, milliseconds for a
    # 40 KiB provisioning answer.
    algorithm = _PYJWS.get_algorithm_by_name(alg)
    if not algorithm.verify(parsed.signing_input, algorithm.prepare_key(key), parsed.signature):
        raise JwsError(ErrorCode.JWS_BAD_SIGNATURE, "The JWS signature does not verify.")


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
    _check_key(_algorithm(alg), private_key.public_key())
    extra = dict(extra_header or {})
    if "alg" in extra:
        raise ValueError("pass the algorithm as `alg`, not in extra_header")
    body = (
        payload
        if isinstance(payload, bytes)
        else json.dumps(dict(payload), separators=(",", ":"), ensure_ascii=False).encode()
    )
    # The header is written here, not by `PyJWS.encode`: a test device must be able to send any
    # header (a numeric `kid`, an odd `b64`), which PyJWT's encoder refuses or rewrites; the
    # signature is PyJWT's algorithm, as in `verify`.
    header_b64 = b64url_encode(json.dumps({"alg": alg, **extra}, separators=(",", ":")).encode())
    signing_input = f"{header_b64}.{b64url_encode(body)}".encode("ascii")
    algorithm = _PYJWS.get_algorithm_by_name(alg)
    signature = algorithm.sign(signing_input, algorithm.prepare_key(private_key))
    return f"{signing_input.decode('ascii')}.{b64url_encode(signature)}"
