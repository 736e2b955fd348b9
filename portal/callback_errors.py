"""Callback failures in words a person reads at a glance ("connection refused", "HTTP 500 after
5 attempts"); the raw detail stays available beside it (folded in the page)."""

import re
from dataclasses import dataclass

# What the raw error of an attempt (``services.callbacks``: "HTTP 500", "timeout after 10 s",
# or "<requests exception>: <detail>") says, tried in order; the first match names it.
_CAUSES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), summary)
    for pattern, summary in (
        (r"^HTTP (\d{3})$", r"HTTP \1"),
        (r"^timeout after (\d+) s$", r"no answer within \1 s"),
        (r"connection refused|errno 111\b|errno 61\b|winerror 10061", "connection refused"),
        (
            r"name or service not known|nodename nor servname|nameresolutionerror|"
            r"getaddrinfo failed|temporary failure in name resolution|no address associated",
            "host name not found",
        ),
        (r"certificate verify failed|certificate_verify_failed", "TLS certificate not trusted"),
        (r"sslerror|ssl:|tls", "TLS handshake failed"),
        (r"no route to host|network is unreachable|host is unreachable", "host unreachable"),
        (r"connection reset|connection aborted|remotedisconnected", "connection dropped"),
        (r"read ?timed? ?out|connecttimeout|timed out", "no answer in time"),
        (r"invalid url|missingschema|invalidschema|invalidurl", "invalid callback URL"),
        (r"toomanyredirects|redirect", "redirected (callbacks do not follow redirects)"),
    )
)


def error_cause(raw: str) -> str:
    """The cause of one failed attempt in a few words; "failed" when nothing is recognised."""
    text = raw.strip()
    for pattern, summary in _CAUSES:
        found = pattern.search(text)
        if found:
            return found.expand(summary) if "\\" in summary else summary
    if text:
        name = text.split(":", 1)[0]
        return f"failed ({name})" if re.fullmatch(r"[A-Za-z]+Error|[A-Za-z]+", name) else "failed"
    return ""


@dataclass(frozen=True)
class CallbackProblem:
    summary: str  # "HTTP 500 after 5 attempts"
    detail: str  # the raw last error, for the folded detail ("" when the summary is all of it)


def callback_problem(
    *, state: str, attempts: int, max_attempts: int, last_error: str, last_status: int | None
) -> CallbackProblem | None:
    """A delivery's trouble, summarised; None when its last attempt did not fail."""
    raw = last_error or (f"HTTP {last_status}" if last_status and last_status >= 300 else "")
    if not raw:
        return None
    cause = error_cause(raw)
    if state == "EXHAUSTED":
        summary = f"{cause} after {attempts} attempt{'s' if attempts != 1 else ''}"
    elif state == "DELIVERED":
        summary = f"delivered after {cause} on an earlier attempt"
    else:
        summary = f"{cause} (attempt {attempts} of {max_attempts}, retrying)"
    # Nothing to fold when the summary says it all ("HTTP 500").
    return CallbackProblem(summary=summary, detail=raw if raw != cause else "")
