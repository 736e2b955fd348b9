"""Fixed-window rate limits (per API key, per box token, per source address for failures).

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
from django.http import HttpRequest

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


def _incr(key: str, expires: int) -> int | None:
    client = _redis()
    try:
        if client is not None:
            with client.pipeline() as pipe:
                pipe.incr(key)
                pipe.expire(key, expires)
                count, _ = pipe.execute()
            return int(count)
        django_cache.add(key, 0, expires)
        return int(django_cache.incr(key))
    except (redis.RedisError, ValueError) as exc:
        logger.warning("rate limit store unavailable (%s): letting the request through", exc)
        return None


def _read(key: str) -> int:
    client = _redis()
    try:
        value = client.get(key) if client is not None else django_cache.get(key)
    except redis.RedisError:
        return 0
    return int(value or 0)


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


def check(limit: Limit, ident: str) -> None:
    """429 if the budget is already spent, without counting (for failure budgets)."""
    if limit.per_window <= 0:
        return
    window, remaining = _window()
    if _read(limit.key(ident, window)) >= limit.per_window:
        raise rate_limited(remaining)


def record(limit: Limit, ident: str) -> None:
    """Count one failure against a failure budget."""
    if limit.per_window > 0:
        _incr(limit.key(ident, _window()[0]), settings.HERMOD_RATE_LIMIT_WINDOW + 1)


def client_address(request: HttpRequest) -> str:
    if settings.HERMOD_BEHIND_PROXY:
        # The proxy appends the address it saw; everything left of it the client wrote itself.
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return str(forwarded).split(",")[-1].strip()
    return str(request.META.get("REMOTE_ADDR", ""))


def per_client() -> Limit:
    return Limit("client", settings.HERMOD_RATE_LIMIT_CLIENT)


def per_box() -> Limit:
    return Limit("box", settings.HERMOD_RATE_LIMIT_BOX)


def auth_failures() -> Limit:
    return Limit("auth-fail", settings.HERMOD_RATE_LIMIT_AUTH_FAILURES)


def box_misses() -> Limit:
    return Limit("box-miss", settings.HERMOD_RATE_LIMIT_NOT_FOUND)
