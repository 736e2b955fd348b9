"""One table from a push service's HTTP answer to what the outbox does with it."""

import pytest

from hermod_core.push.base import PushOutcome
from hermod_core.push.classify import (
    RELAY_GONE,
    WEBPUSH_GONE,
    classify_status,
    network_failure,
)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, PushOutcome.DELIVERED),
        (201, PushOutcome.DELIVERED),  # Web Push: created
        (404, PushOutcome.UNREGISTERED),
        (410, PushOutcome.UNREGISTERED),  # RFC 8030 §7.3: the subscription is gone
        (429, PushOutcome.RETRY),
        (500, PushOutcome.RETRY),
        (503, PushOutcome.RETRY),
        (501, PushOutcome.REJECTED),  # not implemented: it will not be next time either
        (400, PushOutcome.REJECTED),
        (401, PushOutcome.REJECTED),  # bad credentials: retrying cannot help
        (403, PushOutcome.REJECTED),
        (413, PushOutcome.REJECTED),
        (301, PushOutcome.REJECTED),  # a redirect is not followed
    ],
)
def test_each_status_has_its_outcome(status: int, outcome: PushOutcome) -> None:
    result = classify_status(status, "Reason", gone=WEBPUSH_GONE)
    assert result.outcome is outcome
    assert result.status == status
    assert result.detail == f"HTTP {status} Reason"


def test_a_relay_answering_404_keeps_the_registrations() -> None:
    """A relay's 404 is most often a wrong relay URL: were it read as "unknown pushId", one
    misconfiguration would remove every device's registration. Only 410 Gone does that."""
    assert classify_status(404, "Not Found", gone=RELAY_GONE).outcome is PushOutcome.REJECTED
    assert classify_status(410, "Gone", gone=RELAY_GONE).outcome is PushOutcome.UNREGISTERED


def test_an_unreachable_service_is_retried_with_its_reason() -> None:
    result = network_failure(ConnectionRefusedError("refused"))
    assert result.outcome is PushOutcome.RETRY
    assert result.detail == "ConnectionRefusedError: refused"
    assert result.status is None
