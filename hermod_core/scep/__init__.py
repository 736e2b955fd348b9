"""RFC 8894 SCEP client (docs/PROTOCOL.md §10): Hermod enrols device CSRs at a group's CA as an RA.

Self-contained on `cryptography`, `asn1crypto` and `requests`; no Django. Settings arrive as a
`ScepConfig`. Every failure is a `ScepError` subclass whose class decides retry / stop.
"""

from hermod_core.scep.client import ScepClient, ScepConfig
from hermod_core.scep.enrollment import enroll_until_done
from hermod_core.scep.errors import (
    ScepConfigError,
    ScepDeadlineError,
    ScepError,
    ScepProtocolError,
    ScepRejectedError,
    ScepTransientError,
)
from hermod_core.scep.identity import make_ra_identity
from hermod_core.scep.results import CaChain, EnrollResult, PkiStatus

__all__ = [
    "CaChain",
    "EnrollResult",
    "PkiStatus",
    "ScepClient",
    "ScepConfig",
    "ScepConfigError",
    "ScepDeadlineError",
    "ScepError",
    "ScepProtocolError",
    "ScepRejectedError",
    "ScepTransientError",
    "enroll_until_done",
    "make_ra_identity",
]
