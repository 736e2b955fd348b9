"""Signer certificate chains: does a signer's certificate chain to one of a group's trusted CAs?

Used for the answers to profile-less ``@tmp`` sign/authenticate commands (docs/PROTOCOL.md §6.3),
whose only statement of who signed is the certificate the answer carries. Built on
``cryptography.x509.verification`` (RFC 5280 path building and signature checks, validity at
``at``, basicConstraints and keyUsage of the CAs as the Web PKI profile wants them). The signer
certificate itself is checked with a permissive extension policy: signing certificates carry
``nonRepudiation``/``emailProtection``/document-signing usages and no subjectAltName, which the
TLS-oriented default end-entity policy would refuse. Not checked: revocation (no CRL or OCSP is
fetched), name constraints beyond what the library applies, and certificate policies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

# Signer, at most a few intermediates, the trust anchor.
MAX_CHAIN_DEPTH = 6


@dataclass(frozen=True)
class ChainResult:
    """``verified`` when the signer chains to a trusted CA at ``at``; ``reason`` says why not."""

    verified: bool
    reason: str


def verify_signer_chain(
    signer: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trusted: Sequence[x509.Certificate],
    *,
    at: datetime,
) -> ChainResult:
    """Whether ``signer`` chains, through ``intermediates`` (untrusted, as the answer carried
    them), to one of ``trusted`` at the aware time ``at``. Never raises for a bad chain."""
    if not trusted:
        return ChainResult(False, "unverified signer")
    verifier = (
        PolicyBuilder()
        .store(Store(list(trusted)))
        .time(at)
        .max_chain_depth(MAX_CHAIN_DEPTH)
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(signer, list(intermediates))
    except VerificationError as exc:
        return ChainResult(False, f"the signer certificate does not chain to a trusted CA: {exc}")
    except ValueError as exc:  # malformed extensions met while building the path
        return ChainResult(False, f"the signer certificate chain is malformed: {exc}")
    return ChainResult(True, "")
