import base64
import contextlib
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hermod_core.crypto.digests import (
    b64decode_strict,
    b64url_decode,
    b64url_encode,
    b64url_sha256,
    der_from_pem_or_b64,
)
from hermod_core.crypto.errors import CryptoError, ErrorCode

from .helpers import FUZZ, raises_code


def test_it_computes_the_base64url_sha256_of_the_protocol() -> None:
    # SHA-256("abc") from FIPS 180-2, in unpadded base64url.
    assert b64url_sha256(b"abc") == "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"


def test_it_encodes_base64url_without_padding() -> None:
    assert b64url_encode(b"\xfb\xff") == "-_8"


@FUZZ
@given(st.binary(max_size=200))
def test_it_round_trips_any_bytes_through_base64url(data: bytes) -> None:
    assert b64url_decode(b64url_encode(data)) == data


@pytest.mark.parametrize(
    "text",
    ["AQ==", "A", "AQ=", "+/8", "AQ AB", "AQ\n", "AR", "Zm9v!", "ÄÄÄÄ"],
)
def test_it_rejects_non_canonical_base64url(text: str) -> None:
    with raises_code(ErrorCode.BASE64_INVALID):
        b64url_decode(text)


def test_it_rejects_base64url_that_is_not_text() -> None:
    with raises_code(ErrorCode.BASE64_INVALID):
        b64url_decode(b"AQAB")  # type: ignore[arg-type]


@FUZZ
@given(st.binary(max_size=200))
def test_it_round_trips_any_bytes_through_strict_base64(data: bytes) -> None:
    assert b64decode_strict(base64.b64encode(data).decode()) == data


def test_it_tolerates_line_wrapping_and_missing_padding_in_base64() -> None:
    assert b64decode_strict(" Zm9v\r\nYmFy\n\tYQ ") == b"foobara"
    assert b64decode_strict("YQ") == b"a"
    assert b64decode_strict("YQ==") == b"a"


@pytest.mark.parametrize(
    "text",
    ["YQ=", "YQ===", "Y", "Y=Q=", "-_8", "YR==", "Zm9v!", "YQ==YQ==", "\u00a0YQ=="],
)
def test_it_rejects_malformed_standard_base64(text: str) -> None:
    with raises_code(ErrorCode.BASE64_INVALID):
        b64decode_strict(text)


def test_it_decodes_bare_base64_or_pem_with_an_expected_label() -> None:
    body = base64.b64encode(b"payload").decode()
    pem = f"-----BEGIN THING-----\n{body}\n-----END THING-----\n"
    assert der_from_pem_or_b64(body, ("THING",), max_chars=100) == b"payload"
    assert der_from_pem_or_b64(pem, ("OTHER", "THING"), max_chars=100) == b"payload"


def test_it_rejects_pem_with_another_label_or_too_much_text() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nYQ==\n-----END CERTIFICATE-----"
    with raises_code(ErrorCode.BASE64_INVALID):
        der_from_pem_or_b64(pem, ("CERTIFICATE REQUEST",), max_chars=1000)
    with raises_code(ErrorCode.BASE64_INVALID):
        der_from_pem_or_b64("YQ==" * 30, ("X",), max_chars=100)


@FUZZ
@given(st.text(max_size=300))
def test_strict_decoders_raise_only_crypto_errors_for_any_text(text: str) -> None:
    for decode in (b64url_decode, b64decode_strict):
        with contextlib.suppress(CryptoError):
            decode(text)


@FUZZ
@given(st.text(alphabet="AQab+/=-_ \n", max_size=40))
def test_strict_base64_accepts_exactly_its_own_canonical_output(text: str) -> None:
    try:
        data = b64decode_strict(text)
    except CryptoError:
        return
    compact = "".join(text.split())
    assert base64.b64encode(data).decode().rstrip("=") == compact.rstrip("=")
    assert hashlib.sha256(data).digest()  # decoded value is real bytes
