"""Who is calling: the client's address, and which proxy headers are believed.

A request's TCP peer (``REMOTE_ADDR``) is the only address nobody can forge. Behind a reverse
proxy the peer is the proxy, and the client's address is in ``X-Forwarded-For``, but that header
is written by whoever sends the request: it is believed only from a peer listed in
``HERMOD_TRUSTED_PROXIES``, and then only as far as it was written by trusted proxies (walking
from the right, each trusted hop vouches for the entry left of it). ``X-Forwarded-Proto`` (the
scheme behind ``SECURE_PROXY_SSL_HEADER``) is dropped from untrusted peers by
``TrustedProxyMiddleware``.

``client_address`` is the one place that answers "which address is this": the API's failure
budgets, the mailbox's and the console's sign-in throttle and audit rows all use it (budgets
through ``budget_address``, which counts IPv6 by /64).
"""

import ipaddress
from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from hermod_core.env import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Headers only a trusted proxy may set; from any other peer they are removed before Django or a
# view reads them.
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO")


def parse_address(value: str) -> Address | None:
    """An address as proxies write it (``203.0.113.7``, ``203.0.113.7:4711``, ``2001:db8::1``,
    ``[2001:db8::1]:443``), IPv4-mapped IPv6 as IPv4; None for anything else."""
    text = value.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted(address: Address | None, trusted: Iterable[Network]) -> bool:
    return address is not None and any(address in network for network in trusted)


def forwarded_client(peer: str, forwarded: str, trusted: Iterable[Network]) -> str:
    """The client's address from the TCP peer and the ``X-Forwarded-For`` it sent.

    Starting at the peer, while the current address is a trusted proxy, step to the entry that
    proxy appended (the rightmost one not yet used). The first untrusted address is the client;
    entries left of it were written by the client itself and are never read. A malformed entry
    behind a trusted hop stops the walk at that hop: a proxy writes addresses, so the entry is not
    the proxy's, and the proxy's own address is the last one known to be true.
    """
    trusted = tuple(trusted)
    address = parse_address(peer)
    if address is None:
        return peer.strip()
    hops = forwarded.split(",") if forwarded else []
    while hops and is_trusted(address, trusted):
        hop = parse_address(hops.pop())
        if hop is None:
            break
        address = hop
    return str(address)


def peer_is_trusted(request: HttpRequest) -> bool:
    return is_trusted(
        parse_address(str(request.META.get("REMOTE_ADDR") or "")),
        settings.HERMOD_TRUSTED_PROXIES,
    )


def client_address(request: HttpRequest) -> str:
    """The address of the client behind this request (see the module docstring)."""
    peer = str(request.META.get("REMOTE_ADDR") or "")
    trusted = settings.HERMOD_TRUSTED_PROXIES
    if not trusted:
        return str(parse_address(peer) or peer.strip())
    return forwarded_client(peer, str(request.META.get("HTTP_X_FORWARDED_FOR") or ""), trusted)


def budget_address(address: str) -> str:
    """The key a failure budget or sign-in throttle counts an address under: an IPv4 address
    itself, an IPv6 address's /64. One IPv6 host usually holds a whole /64 (SLAAC, privacy
    addresses), so counting single addresses would hand it 2^64 fresh budgets; audit rows keep
    the full address."""
    parsed = parse_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return address


class TrustedProxyMiddleware:
    """Removes ``X-Forwarded-For`` and ``X-Forwarded-Proto`` from requests whose peer is not a
    trusted proxy, first of all middleware: ``request.is_secure()`` (``SECURE_PROXY_SSL_HEADER``,
    hence HSTS and the CSRF checks) then never believes a header a client wrote itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not peer_is_trusted(request):
            for header in PROXY_HEADERS:
                request.META.pop(header, None)
        return self.get_response(request)
