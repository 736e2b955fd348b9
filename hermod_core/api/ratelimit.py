"""Fixed-window rate limits: request budgets per API key and per box token (keyed on the
credential the request proved), failure budgets per client address (``hermod_core.proxies``) for
requests that proved none.

Counters live in Redis when one is configured (shared by every web process) and otherwise in
Django's cache (per process: enough for a single-process development server). A limiter that
cannot reach its store lets requests through and logs it: availability beats strictness here,
and authentication itself does not depend on it.
"""

import logging
import math
import time
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from django.core.cache import cache as django_cache
from redis.commands.core import Script

from hermod_core.api.errors import ApiError

logger = logging.getLogger("hermod.ratelimit")


@dataclass(frozen=True)
class Limit:
    scope: str
    per_window: int  # 0 disables the limit

    def key(self, ident: str, window: int) -> str:
        return f"hermod:rl:{self.scope}:{ident}:{window}"


@cache
def _redis() -> redis.Redis | None:
    url = settings.HERMOD_RATE_LIMIT_REDIS_URL
    if not url:
        return None
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


# Counts a hit and gives a window's new key its expiry, atomically (a key never lives without
# one): one command and one round trip, where a MULTI/INCR/EXPIRE/EXEC pipeline sends four.
_COUNT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


@cache
def _counter(client: redis.Redis) -> Script:
    """The counting script, sent by its digest (EVALSHA), loaded once per server."""
    return client.register_script(_COUNT)


def _incr(key: str, expires: int) -> int | None:
    client = _redis()
    try:
        if client is not None:
            return int(_counter(client)(keys=[key], args=[expires]))
        django_cache.add(key, 0, expires)
        return int(django_cache.incr(key))
    except (redis.RedisError, ValueError) as exc:
        logger.warning("rate limit store unavailable (%s): letting the request through", exc)
        return None


def _window() -> tuple[int, int]:
    """The current window number and the seconds until it ends."""
    length = settings.HERMOD_RATE_LIMIT_WINDOW
    now = time.time()
    return int(now // length), max(1, math.ceil(length - now % length))


def rate_limited(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "RATE_LIMITED",
        "Too many requests; retry later.",
        headers={"Retry-After": str(retry_after)},
    )


def hit(limit: Limit, ident: str) -> None:
    """Count one request; 429 (with Retry-After) once the window's budget is spent."""
    if limit.per_window <= 0:
        return
    window, remaining = _window()
    count = _incr(limit.key(ident, window), settings.HERMOD_RATE_LIMIT_WINDOW + 1)
    if count is not None and count > limit.per_window:
        raise rate_limited(remaining)


def failed(limit: Limit, ident: str) -> None:
    """Count one failure against a failure budget; 429 once the window's budget is spent.

    Called only after a request failed to prove a credential, never before checking one: a
    caller with a valid key or token is never refused by failures that others caused from its
    address (or from an address they claimed for it).
    """
    hit(limit, ident)


def per_client() -> Limit:
    return Limit("client", settings.HERMOD_RATE_LIMIT_CLIENT)


def per_box() -> Limit:
    return Limit("box", settings.HERMOD_RATE_LIMIT_BOX)


def auth_failures() -> Limit:
    return Limit("auth-fail", settings.HERMOD_RATE_LIMIT_AUTH_FAILURES)


def box_misses() -> Limit:
    return Limit("box-miss", settings.HERMOD_RATE_LIMIT_NOT_FOUND)
