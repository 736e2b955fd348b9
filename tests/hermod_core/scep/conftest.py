"""Fixtures for the SCEP client: keys made once per session, real scepservers, a fake CA."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from hermod_core.scep.client import ScepClient, ScepConfig
from tests.hermod_core.scep import factories
from tests.hermod_core.scep.fake_ca import FakeCa, serve_fake_ca
from tests.scepserver import CHALLENGE, RealScepServer  # noqa: F401 - re-exported to tests


@dataclass(frozen=True)
class Keys:
    """Every RSA key the suite needs, generated once (key generation dominates the runtime)."""

    ra_key: rsa.RSAPrivateKey
    ra_cert: x509.Certificate
    other_ra_key: rsa.RSAPrivateKey
    other_ra_cert: x509.Certificate
    ca_key: rsa.RSAPrivateKey
    ca_cert: x509.Certificate
    rogue_key: rsa.RSAPrivateKey
    rogue_cert: x509.Certificate
    devices: tuple[rsa.RSAPrivateKey, ...]


@pytest.fixture(scope="session")
def keys() -> Keys:
    ra_key, ra_cert = factories.ra_identity("Hermod RA")
    other_ra_key, other_ra_cert = factories.ra_identity("Other RA")
    ca_key, ca_cert = factories.ca_identity("Fake SCEP CA")
    # Same subject as the real CA: only the key differs, as with an impostor.
    rogue_key = factories.rsa_key()
    rogue_cert = factories.self_signed_ca(rogue_key, "Fake SCEP CA")
    devices = tuple(factories.rsa_key() for _ in range(4))
    return Keys(
        ra_key,
        ra_cert,
        other_ra_key,
        other_ra_cert,
        ca_key,
        ca_cert,
        rogue_key,
        rogue_cert,
        devices,
    )


@pytest.fixture
def fake_ca(keys: Keys) -> Iterator[FakeCa]:
    with serve_fake_ca(keys.ca_key, keys.ca_cert) as ca:
        yield ca


@pytest.fixture
def fake_client(keys: Keys, fake_ca: FakeCa) -> Iterator[ScepClient]:
    config = ScepConfig(url=fake_ca.url, ra_key=keys.ra_key, ra_cert=keys.ra_cert, timeout=5)
    with ScepClient(config) as client:
        yield client


# --- the real micromdm scepserver --------------------------------------------------------------


def real_client(
    server: RealScepServer,
    keys: Keys,
    *,
    challenge_password: str | None = None,
    session: requests.Session | None = None,
) -> ScepClient:
    config = ScepConfig(
        url=server.url,
        ra_key=keys.ra_key,
        ra_cert=keys.ra_cert,
        timeout=10,
        challenge_password=challenge_password,
    )
    return ScepClient(config, session)
