"""What the FCM and APNs clients share: Retry-After, the detail that carries it, TLS settings."""

import email.utils

import pytest

from hermod_core.push.base import PushOutcome
from hermod_core.push.transport import (
    ProviderConfigError,
    one_line,
    retry_after_in,
    retry_after_seconds,
    retry_result,
    tls_context,
)

NOW = 1_900_000_000.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("30", 30),
        (" 0 ", 0),
        (email.utils.formatdate(NOW + 90, usegmt=True), 90),
        (email.utils.formatdate(NOW - 90, usegmt=True), 0),  # a date gone by: now
        ("999999999", 86_400),  # capped at a day
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(
    header: str | None, seconds: int | None
) -> None:
    assert retry_after_seconds(header, now=NOW) == seconds


def test_a_retry_result_carries_the_wait_and_it_reads_back() -> None:
    result = retry_result("HTTP 503 UNAVAILABLE", 503, "45")

    assert (result.outcome, result.status) == (PushOutcome.RETRY, 503)
    assert result.detail == "HTTP 503 UNAVAILABLE; retry after 45 s"
    assert retry_after_in(result.detail) == 45


def test_a_retry_result_without_retry_after_says_nothing_of_a_wait() -> None:
    result = retry_result("HTTP 500 INTERNAL", 500, None)

    assert result.detail == "HTTP 500 INTERNAL"
    assert retry_after_in(result.detail) is None


def test_a_provider_message_cannot_forge_a_wait_in_the_middle_of_a_detail() -> None:
    assert retry_after_in("HTTP 400 x; retry after 99999 s: then more") is None


def test_provider_text_becomes_one_short_line() -> None:
    assert one_line("a\nb\t c  d") == "a b c d"
    assert one_line("x" * 300, 10) == "x" * 9 + "…"


def test_a_ca_bundle_that_cannot_be_read_is_a_configuration_error() -> None:
    with pytest.raises(ProviderConfigError, match="verify: cannot read the CA bundle"):
        tls_context("/nonexistent/ca.pem")


def test_verification_off_is_possible_for_a_local_endpoint_only_by_asking() -> None:
    assert tls_context(True).check_hostname is True
    assert tls_context(False).check_hostname is False
