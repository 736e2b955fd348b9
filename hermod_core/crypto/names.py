"""X.509 distinguished names: a comparable canonical form and a display string.

docs/PROTOCOL.md §6.2.5 requires a re-keyed CSR's subject to *equal* the template's. Equal here
means: the same RDNs in the same order, each with the same set of (attribute type, value) pairs,
values compared exactly (no case folding, no whitespace folding). The ASN.1 string type is
deliberately not compared: a device library that re-encodes `emailAddress` as UTF8String instead
of IA5String names the same person, and rejecting it would only break real apps.
"""

from __future__ import annotations

from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID

SubjectKey = tuple[frozenset[tuple[str, str | bytes]], ...]

# RFC 4514 knows no short name for emailAddress; the OpenSSL spelling is what people recognise.
_DISPLAY_NAMES: Final = {NameOID.EMAIL_ADDRESS: "emailAddress"}


def name_key(name: x509.Name) -> SubjectKey:
    """The canonical, hashable form of `name` described in the module docstring."""
    return tuple(
        frozenset((attribute.oid.dotted_string, attribute.value) for attribute in rdn)
        for rdn in name.rdns
    )


def name_to_string(name: x509.Name) -> str:
    """RFC 4514 string of `name` (most specific RDN first), `emailAddress` spelled out."""
    return name.rfc4514_string(_DISPLAY_NAMES)
