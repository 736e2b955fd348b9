"""The console sign-in throttle (growing delays per name and address, a budget per address)
and the record of console sessions.
"""

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from hermod_core.proxies import budget_address
from hermod_core.services.audit import Actor, audit_record
from portal.models import LoginThrottle

# Sign-in throttle: growing delays per (account name, address), a coarse budget per address.
LOGIN_FREE_FAILURES = 5  # consecutive failures of a name from an address before delays start
LOGIN_MAX_DELAY = timedelta(minutes=15)
LOGIN_FORGET = timedelta(hours=24)  # a pair's failures are forgotten this long after the last
LOGIN_MAX_FAILURES_PER_IP = 50  # per address within LOGIN_WINDOW, whatever the names tried
LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_IP_BLOCK = timedelta(minutes=15)

# --- sign-in throttle -------------------------------------------------------------------------


def login_failure_delay(failures: int) -> timedelta:
    """The wait after a pair's ``failures``-th consecutive failure: none for the first
    ``LOGIN_FREE_FAILURES - 1``, then 2, 4, 8 … seconds, capped at ``LOGIN_MAX_DELAY``."""
    if failures < LOGIN_FREE_FAILURES:
        return timedelta(0)
    exponent = min(failures - LOGIN_FREE_FAILURES + 1, 20)
    return min(timedelta(seconds=2**exponent), LOGIN_MAX_DELAY)


@transaction.atomic
def login_failure_record(*, username: str, ip: str) -> timedelta:
    """Count a failed sign-in of ``username`` from ``ip``; the wait it starts (zero if none).

    Per (name, address): after ``LOGIN_FREE_FAILURES`` consecutive failures each further one
    makes the next attempt wait twice as long (``login_failure_delay``); failures are forgotten
    ``LOGIN_FORGET`` after the last one, or at once by a success or an admin. Per address:
    ``LOGIN_MAX_FAILURES_PER_IP`` failures within ``LOGIN_WINDOW``, whatever the names, block the
    address for ``LOGIN_IP_BLOCK`` (password spraying). Addresses count as
    ``hermod_core.proxies.budget_address`` (IPv6 by /64); the audit row keeps the full one.
    Audited as ``console.login_failed``.
    """
    now = timezone.now()
    first = {"window_started_at": now, "last_failed_at": now}
    counted = budget_address(ip)
    pair, _ = LoginThrottle.objects.select_for_update().get_or_create(
        username=LoginThrottle.name_of(username), ip=counted, defaults=first
    )
    if now - pair.last_failed_at > LOGIN_FORGET:
        pair.failures = 0
        pair.window_started_at = now
    pair.failures += 1
    pair.last_failed_at = now
    wait = login_failure_delay(pair.failures)
    pair.blocked_until = now + wait if wait else None
    pair.save()
    address, _ = LoginThrottle.objects.select_for_update().get_or_create(
        username="", ip=counted, defaults=first
    )
    if now - address.window_started_at > LOGIN_WINDOW:
        address.failures = 0
        address.window_started_at = now
    address.failures += 1
    address.last_failed_at = now
    if address.failures >= LOGIN_MAX_FAILURES_PER_IP:
        address.blocked_until = now + LOGIN_IP_BLOCK
        address.failures = 0
        address.window_started_at = now
        wait = max(wait, LOGIN_IP_BLOCK)
    address.save()
    audit_record(
        actor=Actor(name="anonymous", address=ip or None),
        action="console.login_failed",
        target_type="account",
        target_id=username[:100],
        details={"failures": pair.failures, "wait_seconds": int(wait.total_seconds())},
    )
    return wait


def login_refusal_record(*, username: str, ip: str, scope: str, wait: timedelta) -> None:
    """Audit an attempt refused while throttled (``console.login_throttled``); its password was
    not checked and it does not count as a failure."""
    audit_record(
        actor=Actor(name="anonymous", address=ip or None),
        action="console.login_throttled",
        target_type="account",
        target_id=username[:100],
        details={"scope": scope, "wait_seconds": max(1, int(wait.total_seconds()))},
    )


@transaction.atomic
def login_throttle_clear(*, actor: Actor, throttle_id: int) -> LoginThrottle | None:
    """An admin lifts a throttle (a name from an address, or a whole address); audited as
    ``console.login_unthrottled``. None if there was no such row (already cleared)."""
    row = LoginThrottle.objects.select_for_update().filter(pk=throttle_id).first()
    if row is None:
        return None
    row.delete()
    audit_record(
        actor=actor,
        action="console.login_unthrottled",
        target_type="account" if row.username else "address",
        target_id=(row.username or row.ip)[:100],
        details={"ip": row.ip, "failures": row.failures},
    )
    return row


def console_session_record(
    *, user: AbstractBaseUser, ip: str, action: str, details: dict[str, Any] | None = None
) -> None:
    """Audit a sign-in or sign-out (``console.login`` / ``console.logout``)."""
    name = user.get_username()
    audit_record(
        actor=Actor(name=name, user=user, address=ip or None),
        action=action,
        target_type="account",
        target_id=name[:100],
        details=details,
    )


def login_success_reset(*, username: str, ip: str) -> None:
    """Forget the failures of this name from this address (not the address's own count)."""
    name = LoginThrottle.name_of(username)
    if name:
        LoginThrottle.objects.filter(username=name, ip=budget_address(ip)).delete()
