"""GetCACaps answers (RFC 8894 §3.5.2): which optional features a CA supports.

Capability names are matched case-insensitively (the RFC asks clients to) and stored in their
canonical spelling; unknown names are kept as sent.
"""

from __future__ import annotations

KNOWN_CAPS = (
    "AES",
    "DES3",
    "GetNextCACert",
    "POSTPKIOperation",
    "Renewal",
    "SHA-1",
    "SHA-256",
    "SHA-512",
    "SCEPStandard",
    "Update",
)
_CANONICAL = {name.casefold(): name for name in KNOWN_CAPS}

# What a CA that answers nothing supports: the RFC says to assume none of the options, i.e.
# GET requests, DES-CBC and SHA-1/MD5.
DEFAULT_CAPS: frozenset[str] = frozenset()


def parse_caps(body: bytes) -> frozenset[str]:
    """One capability per line; blank or undecodable answers mean the defaults."""
    text = body.decode("ascii", errors="ignore")
    caps: set[str] = set()
    for line in text.splitlines():
        name = line.strip()
        if name:
            caps.add(_CANONICAL.get(name.casefold(), name))
    return frozenset(caps)


def _has(caps: frozenset[str], name: str) -> bool:
    # SCEPStandard implies AES, POSTPKIOperation and SHA-256 (RFC 8894 §3.5.2).
    return name in caps or (
        name in ("AES", "POSTPKIOperation", "SHA-256") and "SCEPStandard" in caps
    )


def supports_aes(caps: frozenset[str]) -> bool:
    return _has(caps, "AES")


def supports_des3(caps: frozenset[str]) -> bool:
    return _has(caps, "DES3")


def supports_post(caps: frozenset[str]) -> bool:
    return _has(caps, "POSTPKIOperation")


def supports_sha256(caps: frozenset[str]) -> bool:
    return _has(caps, "SHA-256")
