"""RFC 6238 TOTP codes for the tests of the console's second factor, computed here so that a test
does not trust the library's own (tests/portal/test_mfa.py checks it against the RFC's vectors)."""

import base64
import hashlib
import hmac
import struct
import time

SECRET = base64.b32encode(b"12345678901234567890").decode()  # RFC 6238's test key


def totp(secret: str, at: float | None = None, *, step: int = 30, digits: int = 6) -> str:
    """RFC 6238 TOTP (HMAC-SHA1) of ``secret`` (base32) at ``at`` (default: now)."""
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(base64.b32decode(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}d}"
