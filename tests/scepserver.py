"""micromdm scepserver (Debian's `scep` package) as a real SCEP CA for tests.

A fresh CA per flavour and session (`scepserver ca -init`), the server on a free port with
`-allowrenew 0`, reached on 127.0.0.1 only (2.1.0 binds every interface), stopped by pid.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import free_port, port_open, service_missing

SCEPSERVER = "/usr/bin/scepserver"
CHALLENGE = "s3cret-challenge"


@dataclass(frozen=True)
class RealScepServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def start_scepserver(workdir: Path, extra_args: list[str]) -> RealScepServer:
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
            started[flavour] = start_scepserver(workdir, args)
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
