"""How an HTTP answer of a push service maps to a ``PushResult`` (one table for every provider)."""

from hermod_core.push.base import PushOutcome, PushResult
from hermod_core.push.transport import RETRY_STATUSES

# The statuses that say the push service no longer knows the address: 404 and 410 for a Web Push
# subscription (RFC 8030 §7.3); only 410 for a relay, whose 404 far more often means a wrong relay
# URL, which must not remove every device's registration. The statuses worth a retry are the FCM
# and APNs clients' (one home, transport.py); anything else is a fault of the notice or the
# credentials.
WEBPUSH_GONE = frozenset({404, 410})
RELAY_GONE = frozenset({410})


def classify_status(status: int, reason: str = "", *, gone: frozenset[int]) -> PushResult:
    detail = f"HTTP {status}" + (f" {reason}" if reason else "")
    if 200 <= status < 300:
        return PushResult(PushOutcome.DELIVERED, detail, status)
    if status in gone:
        return PushResult(PushOutcome.UNREGISTERED, detail, status)
    if status in RETRY_STATUSES:
        return PushResult(PushOutcome.RETRY, detail, status)
    return PushResult(PushOutcome.REJECTED, detail, status)


def network_failure(exc: Exception) -> PushResult:
    """A push service that could not be reached: try again later."""
    return PushResult(PushOutcome.RETRY, f"{exc.__class__.__name__}: {str(exc)[:300]}")
