"""How a test that needs a real service (PostgreSQL, Redis, scepserver, Chromium) gives up.

Locally a missing service skips the test with a reason; in CI (`HERMOD_REQUIRE_SERVICES=1`) the same
absence fails the test, so a broken CI machine can never turn into a silently green run.
"""

import os
import socket
from typing import NoReturn

import pytest


def services_required() -> bool:
    return os.environ.get("HERMOD_REQUIRE_SERVICES", "") in {"1", "true", "yes"}


def service_missing(reason: str) -> NoReturn:
    """Skip (locally) or fail (CI) the current test because a service is absent."""
    if services_required():
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
