"""micromdm scepserver (Debian's `scep` package) as a real SCEP CA for tests.

A fresh CA per flavour and session (`scepserver ca -init`), the server on a free port with
`-allowrenew 0`, reached on 127.0.0.1 only (2.1.0 binds every interface), stopped by pid.
`verifying_scepserver` starts one that checks challenges with Hermod through
`-csrverifierexec hermod-scep-verify`, as an operator would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.required_services import free_port, port_open, service_missing

SCEPSERVER = "/usr/bin/scepserver"
CHALLENGE = "s3cret-challenge"
# The console script `pip install -e .` puts beside this interpreter ([project.scripts]).
VERIFIER = Path(sys.executable).parent / "hermod-scep-verify"


@dataclass(frozen=True)
class RealScepServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def start_scepserver(
    workdir: Path, extra_args: list[str], env: dict[str, str] | None = None
) -> RealScepServer:
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
            env=env,
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
            started[flavour] = start_scepserver(workdir, args)
        return started[flavour]

    yield get
    for server in started.values():
        stop_scepserver(server)


def stop_scepserver(server: RealScepServer) -> None:
    # Stop exactly the process we started, by its PID.
    server.process.terminate()
    try:
        server.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@contextmanager
def verifying_scepserver(
    workdir: Path, *, verify_url: str, credential: str
) -> Iterator[RealScepServer]:
    """A scepserver that asks Hermod about every CSR: `-csrverifierexec hermod-scep-verify`,
    configured through the environment, the credential from a `_FILE` (as a Docker secret)."""
    if shutil.which(SCEPSERVER) is None:
        service_missing("scepserver not installed")
    if not VERIFIER.exists():
        pytest.fail(f"{VERIFIER} is missing: run `pip install -e .` to install the console script")
    workdir.mkdir(parents=True, exist_ok=True)
    secret = workdir / "verifier-credential"
    secret.write_text(credential + "\n")
    secret.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERMOD_CA_")}
    env |= {
        "HERMOD_CA_VERIFY_URL": verify_url,
        "HERMOD_CA_VERIFIER_CREDENTIAL_FILE": str(secret),
        "HERMOD_CA_VERIFY_TIMEOUT": "20",
    }
    server = start_scepserver(workdir, ["-csrverifierexec", str(VERIFIER)], env)
    try:
        yield server
    finally:
        stop_scepserver(server)
