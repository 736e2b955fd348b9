"""Errors of the wire formats: a code, a sentence for a person, and the dotted field at fault."""


class ProtocolError(ValueError):
    """A request or answer that does not follow docs/PROTOCOL.md.

    ``code`` is UPPER_SNAKE and stable (clients may branch on it); ``field`` is the dotted path of
    the offending member (``provCommand.profile.keygenrequests[0].certreq``) when one is at fault.
    """

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def missing(field: str) -> ProtocolError:
    return ProtocolError("MISSING_FIELD", f"{field} is required.", field)


def invalid(field: str, what: str) -> ProtocolError:
    return ProtocolError("INVALID_FIELD", f"{field} {what}.", field)
