"""Fixtures for the SCEP client: keys made once per session, real scepservers, a fake CA."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from hermod_core.scep.client import ScepClient, ScepConfig
from tests.hermod_core.scep import factories
from tests.hermod_core.scep.fake_ca import FakeCa, serve_fake_ca
from tests.services import free_port, port_open, service_missing

SCEPSERVER = "/usr/bin/scepserver"
CHALLENGE = "s3cret-challenge"


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


@dataclass(frozen=True)
class RealScepServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def _start_scepserver(workdir: Path, extra_args: list[str]) -> RealScepServer:
    depot = workdir / "depot"
    subprocess.run(
        [SCEPSERVER, "ca", "-init", "-keySize", "2048", "-years", "1", "-depot", str(depot)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    log = workdir / "scepserver.log"
    with log.open("wb") as out:
        # It binds every interface (no flag to narrow it); tests talk to 127.0.0.1 only.
        process = subprocess.Popen(
            [SCEPSERVER, "-depot", str(depot), "-port", str(port), "-allowrenew", "0", *extra_args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    deadline = time.monotonic() + 15
    while not port_open("127.0.0.1", port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"scepserver did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    return RealScepServer(url=f"http://127.0.0.1:{port}/scep", process=process, log=log)


@pytest.fixture(scope="session")
def scepserver_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], RealScepServer]]:
    """Start (once per flavour) a scepserver: "open", "challenge" or "rejecting"."""
    started: dict[str, RealScepServer] = {}

    def get(flavour: str) -> RealScepServer:
        if shutil.which(SCEPSERVER) is None:
            service_missing("scepserver not installed")
        if flavour not in started:
            workdir = tmp_path_factory.mktemp(f"scepserver-{flavour}")
            args: list[str] = []
            if flavour == "challenge":
                args = ["-challenge", CHALLENGE]
            elif flavour == "rejecting":
                verifier = workdir / "reject-all.sh"
                verifier.write_text("#!/bin/sh\nexit 1\n")
                verifier.chmod(0o755)
                args = ["-csrverifierexec", str(verifier)]
            started[flavour] = _start_scepserver(workdir, args)
        return started[flavour]

    yield get
    for server in started.values():
        # Stop exactly the process we started, by its PID.
        server.process.terminate()
        try:
            server.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


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
