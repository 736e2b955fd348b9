"""Values that tests compare answers with where the server's answer holds a fresh secret."""

import re
from typing import Any


class _BoxToken:
    """Equal to any box token the server hands out: 256 random bits as 43 base64url characters."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and re.fullmatch(r"[A-Za-z0-9_-]{43}", other) is not None

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<a box token>"


BOX_TOKEN: Any = _BoxToken()
# The server's answer to an accepted provisioning: the new box's token is given there, once.
PROVISIONED: dict[str, Any] = {"state": "COMPLETED", "boxtoken": BOX_TOKEN}
# The one answer to every failed X-Api-Key authentication (docs/PROTOCOL.md §3).
EXPECTED_401 = {
    "error": {"code": "UNAUTHORIZED", "message": "A valid X-Api-Key header is required."}
}
