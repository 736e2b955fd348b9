"""The client's address behind trusted proxies (hermod_core.proxies), with fixed vectors."""

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.test import Client as HttpClient

from hermod_core.models import AuditEvent
from hermod_core.proxies import budget_address, forwarded_client, parse_address

TRUSTED = (
    ipaddress.ip_network("10.0.0.0/24"),
    ipaddress.ip_network("2001:db8:f00::/48"),
    ipaddress.ip_network("127.0.0.1/32"),
)


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # An untrusted peer: its header is never read.
        ("203.0.113.9", "198.51.100.7", "203.0.113.9"),
        ("2001:db8:1::9", "198.51.100.7", "2001:db8:1::9"),
        # One trusted proxy: the entry it appended, not what the client wrote left of it.
        ("10.0.0.2", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.2", "1.2.3.4, 198.51.100.7", "198.51.100.7"),
        # Several hops, from the right, skipping trusted ones (IPv6 among them).
        ("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.3", "198.51.100.7"),
        ("10.0.0.2", "1.2.3.4, 2001:db8:5::1, 2001:db8:f00::7", "2001:db8:5::1"),
        ("2001:db8:f00::1", "2001:db8:5::1", "2001:db8:5::1"),
        # An untrusted hop in the middle ends the walk there.
        ("10.0.0.2", "1.2.3.4, 10.0.0.3, 203.0.113.1, 10.0.0.4", "203.0.113.1"),
        # Ports and brackets as some proxies write them; IPv4-mapped IPv6.
        ("10.0.0.2", "198.51.100.7:4711", "198.51.100.7"),
        ("10.0.0.2", "[2001:db8:5::1]:443", "2001:db8:5::1"),
        ("::ffff:10.0.0.2", "::ffff:198.51.100.7", "198.51.100.7"),
        # No header, or garbage behind a trusted hop: the last address known to be true.
        ("10.0.0.2", "", "10.0.0.2"),
        ("10.0.0.2", "1.2.3.4, unknown", "10.0.0.2"),
        ("10.0.0.2", "1.2.3.4,, 10.0.0.3", "10.0.0.3"),
        # Every hop trusted: the leftmost one.
        ("10.0.0.2", "10.0.0.5, 10.0.0.3", "10.0.0.5"),
    ],
)
def test_it_walks_x_forwarded_for_from_the_right_over_trusted_hops(
    peer: str, forwarded: str, expected: str
) -> None:
    assert forwarded_client(peer, forwarded, TRUSTED) == expected


@pytest.mark.parametrize(
    ("address", "counted"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:5:0:1234:5678:9abc:def0", "2001:db8:5::/64"),
        ("2001:db8:5::1", "2001:db8:5::/64"),
        ("", ""),
    ],
)
def test_budgets_count_an_ipv6_address_by_its_64(address: str, counted: str) -> None:
    assert budget_address(address) == counted


def test_it_normalises_the_spellings_of_one_address() -> None:
    assert parse_address("2001:DB8:0:0::1") == parse_address("[2001:db8::1]:80")
    assert parse_address("not an address") is None


@pytest.fixture
def proxy(settings) -> str:
    settings.HERMOD_TRUSTED_PROXIES = TRUSTED
    return "10.0.0.2"


def _seen(http: HttpClient, **meta: str) -> str | None:
    """The address the console's audit row records for a failed sign-in."""
    http.post("/console/login/", {"username": "ghost", "password": "x"}, **meta)
    event = AuditEvent.objects.order_by("-id").first()
    return event.ip if event else None


@pytest.mark.django_db
def test_x_forwarded_for_is_ignored_from_an_untrusted_peer(proxy: str) -> None:
    assert _seen(HttpClient(), REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="1.2.3.4") == (
        "203.0.113.9"
    )


@pytest.mark.django_db
def test_x_forwarded_for_is_used_from_a_trusted_proxy(proxy: str) -> None:
    assert _seen(HttpClient(), REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="1.2.3.4") == "1.2.3.4"
    seen = _seen(
        HttpClient(),
        REMOTE_ADDR="2001:db8:f00::1",
        HTTP_X_FORWARDED_FOR="1.2.3.4, 2001:db8:5::1, 10.0.0.9",
    )
    assert seen == "2001:db8:5::1"


@pytest.mark.django_db
def test_x_forwarded_proto_is_believed_only_from_a_trusted_proxy(proxy: str, settings) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    http = HttpClient()
    spoofed = http.get("/healthz", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_PROTO="https")
    assert "Strict-Transport-Security" not in spoofed
    proxied = http.get("/healthz", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_PROTO="https")
    assert "Strict-Transport-Security" in proxied


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        (
            "HERMOD_TRUSTED_PROXIES",
            "10.0.0.1, nginx",
            "configuration error: HERMOD_TRUSTED_PROXIES: expected addresses or CIDR networks: "
            "'nginx' does not appear to be an IPv4 or IPv6 network",
        ),
        (
            "HERMOD_BEHIND_PROXY",
            "true",
            "configuration error: HERMOD_BEHIND_PROXY: removed; list the proxy's addresses in "
            "HERMOD_TRUSTED_PROXIES instead",
        ),
    ],
)
def test_a_malformed_proxy_setting_stops_start_up_with_one_line_naming_it(
    tmp_path, name: str, value: str, line: str
) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={name: value, "HERMOD_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [line]


def test_compose_publishes_the_app_only_to_the_proxy_it_trusts() -> None:
    """docker/compose.yaml with docker/.env.example: trusting a proxy's headers is safe only if
    nobody else can speak from its address, so the app's own port is published on the host's
    loopback only and the one trusted address is the TLS profile's proxy, fixed in the compose
    network (a host-local caller arrives from the gateway, which is not trusted)."""
    docker = Path(__file__).resolve().parents[2] / "docker"
    compose = yaml.safe_load((docker / "compose.yaml").read_text())
    example = dict(
        line.split("=", 1)
        for line in (docker / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert compose["services"]["web"]["ports"] == [
        "${HERMOD_BIND:-127.0.0.1}:${HERMOD_PORT:-8000}:8000"
    ]
    assert example["HERMOD_BIND"] == "127.0.0.1"
    proxy = compose["services"]["tls"]["networks"]["default"]["ipv4_address"]
    gateway = compose["networks"]["default"]["ipam"]["config"][0]["gateway"]
    assert example["HERMOD_TRUSTED_PROXIES"] == proxy
    assert proxy != gateway
    assert "HERMOD_BEHIND_PROXY" not in example
