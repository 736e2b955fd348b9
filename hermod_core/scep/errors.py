"""The SCEP client's error taxonomy: every failure says whether trying again can help.

Callers (the certification task) branch on the class, never on the message:

- `ScepTransientError`: the CA could not be reached or answered 5xx/429 — retry with backoff.
- `ScepRejectedError`: the CA answered a signed CertRep FAILURE — final for this CSR.
- `ScepProtocolError`: the reply cannot be trusted or understood (malformed, wrong nonce or
  transaction id, bad or unknown signature) — final; retrying sends the same request to the same
  broken or hostile peer.
- `ScepConfigError`: our own input is unusable (bad URL, key type, CSR) — final until an admin fixes
  the group's CA settings.
- `ScepDeadlineError`: the request was still PENDING when the caller's deadline passed — final for
  this command (its timeout is over), not worth a retry.

Messages are one sentence for a person and never contain key material or the challenge password.
"""

from __future__ import annotations


class ScepError(Exception):
    """Base of every error the SCEP client raises; `code` is UPPER_SNAKE (docs/PROTOCOL.md §12)."""

    retryable: bool = False

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ScepTransientError(ScepError):
    """Network failure, timeout, HTTP 5xx or 429: the same request may succeed later."""

    retryable = True


class ScepRejectedError(ScepError):
    """The CA answered a verified CertRep with pkiStatus FAILURE.

    `fail_info` is the RFC 8894 name (`badAlg`, `badMessageCheck`, `badRequest`, `badTime`,
    `badCertId`) or None when the CA sent none; `fail_info_text` is the optional free text
    (id-scep-failInfoText).
    """

    def __init__(
        self,
        message: str,
        *,
        fail_info: str | None,
        transaction_id: str,
        fail_info_text: str | None = None,
    ) -> None:
        super().__init__("SCEP_REJECTED", message)
        self.fail_info = fail_info
        self.fail_info_text = fail_info_text
        self.transaction_id = transaction_id


class ScepProtocolError(ScepError):
    """The reply is malformed or fails a security check (signature, nonce, transaction id)."""


class ScepConfigError(ScepError):
    """Our own configuration or input (URL, RA identity, CSR) cannot produce a valid request."""


class ScepDeadlineError(ScepError):
    """The CA still answered PENDING when the deadline passed (the timeout classification).

    Not retryable: the deadline is the command's own timeout. `transaction_id` lets an operator
    find the request at the CA.
    """

    def __init__(self, message: str, *, transaction_id: str) -> None:
        super().__init__("SCEP_DEADLINE_EXCEEDED", message)
        self.transaction_id = transaction_id
