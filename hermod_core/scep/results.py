"""Value objects the SCEP client returns: what the CA said, already verified."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography import x509

from hermod_core.scep.errors import ScepRejectedError


class PkiStatus(enum.StrEnum):
    """RFC 8894 §3.2.1.3 pkiStatus, keeping the wire digit as the value's lookup key."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    PENDING = "PENDING"

    @classmethod
    def from_wire(cls, digit: str) -> PkiStatus | None:
        return _STATUS_BY_DIGIT.get(digit)


_STATUS_BY_DIGIT = {"0": PkiStatus.SUCCESS, "2": PkiStatus.FAILURE, "3": PkiStatus.PENDING}

# RFC 8894 §3.2.1.4: failInfo is a PrintableString holding a decimal digit.
FAIL_INFO_NAMES = {
    "0": "badAlg",
    "1": "badMessageCheck",
    "2": "badRequest",
    "3": "badTime",
    "4": "badCertId",
}


@dataclass(frozen=True)
class EnrollResult:
    """A verified CertRep: signature, nonce and transaction id have all been checked.

    On SUCCESS `certificates[0]` is the issued certificate (its public key equals the CSR's); any
    further certificates the CA sent follow it. On FAILURE `fail_info` names the RFC 8894 reason.
    """

    status: PkiStatus
    transaction_id: str
    certificates: tuple[x509.Certificate, ...] = ()
    fail_info: str | None = None
    fail_info_text: str | None = None

    @property
    def certificate(self) -> x509.Certificate | None:
        """The issued certificate, or None unless the status is SUCCESS."""
        return self.certificates[0] if self.certificates else None

    def raise_for_failure(self) -> EnrollResult:
        """Raise `ScepRejectedError` on FAILURE; return self otherwise (for chaining)."""
        if self.status is PkiStatus.FAILURE:
            raise ScepRejectedError(
                f"the CA rejected the request ({self.fail_info or 'no failInfo'})",
                fail_info=self.fail_info,
                fail_info_text=self.fail_info_text,
                transaction_id=self.transaction_id,
            )
        return self


@dataclass(frozen=True)
class CaChain:
    """What GetCACert returned, sorted into roles.

    `ca` is the issuing CA, `recipient` the certificate requests are encrypted to (an RA
    certificate with keyEncipherment when the CA has one, else the CA itself), `certificates`
    every certificate trusted to sign CertReps (the received ones plus configured extras).
    """

    ca: x509.Certificate
    recipient: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
