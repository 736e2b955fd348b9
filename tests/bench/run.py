"""The benchmark (README "Performance"): ``make bench`` or ``python -m tests.bench.run [--quick]``.

It starts the production-shaped stack of ``tests/stack.py`` (PostgreSQL, Redis, gunicorn, Celery
workers and beat), a callback receiver and emulated devices, measures the figures below, prints a
table and writes JSON (``var/bench/latest.json``). Targets are reported PASS/MISS and never fail
the run; anything broken (an error, a non-200, a callback that never comes) does.

1. bare: requests/s of ``GET /livez`` (no database) — the ceiling of this server on this machine;
   and its counterparts that read or write one row (``tests/bench/ceiling.py``).
2. create: requests/s of ``POST /command/authenticate`` to provisioned users.
3. round trip: authenticate round trips/s with N emulated devices, each looping create → fetch →
   signed answer → callback received.
4. callback latency: answer accepted → callback received, at half the round-trip rate.
5. scale: poll, box list and message fetch latency with 1k and with 1M commands stored, each
   after the database was settled the same way (``tests/bench/settle.py``).
6. burst: 10k commands due at the same moment among them, swept by beat as in production →
   all their EXPIRED callbacks received.
7. sweep: the expiry sweep's time for 10k due commands (beat stopped), and expiries/s including
   their callbacks received.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

from hermod_core.emulator.device import Device
from tests.bench import data, profile, push_wake, settle
from tests.bench.load import (
    BenchError,
    Connection,
    CpuMeter,
    LeanSession,
    PhaseResult,
    expect_200,
    machine_busy_cores,
    percentile,
    run_loop,
)
from tests.e2e.receiver import Receiver
from tests.required_services import free_port, port_open
from tests.seeds import provisioning_command
from tests.stack import PYTHON, ROOT, Hermod, Postgres, Redis, hermod_stack

AUTH_PATH = "/hermod/rest/command/authenticate"
READS = ("poll", "list", "fetch")
# The copy of the database with 1k commands, timed beside the 1M one (Bench.interleaved).
SMALL_DATABASE = "hermod_small"


@dataclass(frozen=True)
class Sizes:
    devices: int
    bare_callers: int
    create_callers: int
    warmup: float
    bare_seconds: float
    create_seconds: float
    round_trip_seconds: float
    latency_seconds: float
    small_rows: int
    large_rows: int
    due_rows: int
    burst_rows: int
    samples: int
    query_repeat: int


FULL = Sizes(
    devices=50,
    bare_callers=16,
    create_callers=16,
    warmup=3,
    bare_seconds=15,
    create_seconds=20,
    round_trip_seconds=30,
    latency_seconds=30,
    small_rows=1_000,
    large_rows=1_000_000,
    due_rows=10_000,
    burst_rows=10_000,
    samples=300,
    query_repeat=50,
)
QUICK = Sizes(
    devices=6,
    bare_callers=8,
    create_callers=8,
    warmup=0.5,
    bare_seconds=2,
    create_seconds=2,
    round_trip_seconds=3,
    latency_seconds=3,
    small_rows=1_000,
    large_rows=10_000,
    due_rows=500,
    burst_rows=500,
    samples=30,
    query_repeat=3,
)


@dataclass
class BenchReceiver(Receiver):
    """The end-to-end tests' receiver, which also tells waiting devices their callback came.
    Connections are kept alive, as a production receiver's are (a new connection and thread per
    callback cost it about 0.5 against 0.2 ms of CPU, on the cores the stack uses)."""

    keep_alive: bool = True
    arrived: dict[str, float] = field(default_factory=dict)
    waiters: dict[str, threading.Event] = field(default_factory=dict)

    def expect(self, command_id: str) -> threading.Event:
        with self._lock:
            event = self.waiters.setdefault(command_id, threading.Event())
            if command_id in self.arrived:
                event.set()
            return event

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> int:
        at = time.time()
        status = super()._answer(path, headers, raw)
        command_id = str(json.loads(raw).get("commandId", ""))
        with self._lock:
            self.arrived.setdefault(command_id, at)
            event = self.waiters.get(command_id)
        if event is not None:
            event.set()
        return status


@dataclass
class BenchDevice:
    device: Device
    userid: str
    profile_id: str
    boxurl: str
    boxtoken: str
    state_dir: Path


def _ms(values: Iterable[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(1000 * percentile(ordered, 0.50), 2),
        "p95": round(1000 * percentile(ordered, 0.95), 2),
        "p99": round(1000 * percentile(ordered, 0.99), 2),
        "n": len(ordered),
    }


def _steps(steps: list[tuple[float, ...]]) -> dict[str, dict[str, float]]:
    """p50/p95 of each step of a round trip, as the client and the device saw it."""
    names = ("create", "fetch", "answer", "callback_wait")
    return {name: _ms([step[i] for step in steps]) for i, name in enumerate(names)}


class Bench:
    def __init__(self, sizes: Sizes, folder: Path, options: argparse.Namespace) -> None:
        self.sizes = sizes
        self.folder = folder
        self.options = options
        self.results: dict[str, Any] = {}
        self.devices: list[BenchDevice] = []
        self.ceiling_web: subprocess.Popen[bytes] | None = None
        self.bare_rate = float("nan")  # measured by bare(), which --phases expiry skips

    # --- setup ---------------------------------------------------------------------------------

    def attach(self, hermod: Hermod, postgres: Postgres, redis: Redis) -> None:
        self.hermod, self.postgres, self.redis = hermod, postgres, redis
        self.host, self.port = "127.0.0.1", hermod.port
        self.db = psycopg.connect(postgres.url, autocommit=True)
        self.receiver = BenchReceiver()
        self.receiver.start()
        self.api_key = hermod.create_client("bench", group="bench", callback_url=self.receiver.url)
        row = self.db.execute(
            "SELECT id, group_id FROM hermod_client WHERE client_id = 'bench'"
        ).fetchone()
        assert row is not None
        self.client_pk, self.group_pk = int(row[0]), int(row[1])
        self.api_headers = (
            f"X-Api-Key: {self.api_key}\r\nContent-Type: application/json\r\n".encode()
        )

        def workers() -> list[int]:
            return [w.pid for w in hermod.workers if w.poll() is None]

        self.meter = CpuMeter(
            {
                "web": lambda: [p.pid for p in (hermod.web, self.ceiling_web) if p is not None],
                "workers": workers,
                "beat": lambda: [hermod.beat.pid] if hermod.beat else [],
                "postgres": lambda: [postgres.process.pid] if postgres.process else [],
                "redis": lambda: [redis.process.pid] if redis.process else [],
            }
        )

    def connection(self) -> Connection:
        return Connection(self.host, self.port)

    def api(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        connection = self.connection()
        try:
            if body is None:
                response = connection.request("GET", path, headers=self.api_headers)
            else:
                raw = json.dumps(body).encode()
                response = connection.request("POST", path, raw, self.api_headers)
            return dict(json.loads(expect_200(response, path)))
        finally:
            connection.close()

    def provision(self) -> None:
        started = time.monotonic()

        def one(index: int) -> BenchDevice:
            userid = f"bench-user-{index:03d}"
            body = provisioning_command()
            body["provCommand"]["userid"] = userid
            body["commandHeader"]["externalId"] = f"bench-prov-{index}"
            created = self.api("/hermod/rest/command/provision", body)
            state_dir = self.folder / "devices" / f"device-{index:03d}"
            device = Device(state_dir, session=requests.Session())
            outcome = device.enroll(created["destinations"][0]["uri"])
            if not outcome.completed:
                raise BenchError(f"provisioning device {index}: {outcome.as_json()}")
            profile_ = device.profiles[0]
            # From now on the device speaks through the generator's lean client (load.py).
            device.http.session = LeanSession(self.host, self.port)  # type: ignore[assignment]
            return BenchDevice(
                device, userid, profile_.profile_id, profile_.boxurl, profile_.boxtoken, state_dir
            )

        with ThreadPoolExecutor(max_workers=8) as pool:
            self.devices = list(pool.map(one, range(self.sizes.devices)))
        self.receiver.wait_for(self.sizes.devices, timeout=60)
        self.results["setup"] = {
            "devices": len(self.devices),
            "provisioning_s": round(time.monotonic() - started, 1),
        }
        print(f"  {len(self.devices)} devices provisioned", flush=True)

    def open_probes(self) -> None:
        """One authenticate per device that stays in progress: the message the scale phase
        fetches again and again (fetching a FETCHED message is allowed until it is answered)."""
        self.probes: list[tuple[BenchDevice, str]] = []
        for bench_device in self.devices:
            created = self.api(
                AUTH_PATH,
                {
                    "commandHeader": {"lifespan": 86400, "timeout": 86400, "externalId": "probe"},
                    "authCommand": {"profileid": bench_device.profile_id},
                },
            )
            location = created["destinations"][0]["location"]
            bench_device.device.fetch(location, bench_device.boxtoken)
            self.probes.append((bench_device, location))

    # --- throughput phases ---------------------------------------------------------------------

    def bare(self) -> None:
        def caller(index: int) -> Callable[[], object]:
            connection = self.connection()
            return lambda: expect_200(connection.request("GET", "/livez"), "GET /livez")

        result = self._run("bare", self.sizes.bare_callers, self.sizes.bare_seconds, caller)
        sequential = self._sequential_latency("/livez", b"", self.sizes.samples)
        self.results["bare"] = self._throughput(result) | {"sequential_p50_ms": sequential}
        self.bare_rate = result.rate
        self.bare_latency = sequential / 1000

    def ceiling(self) -> None:
        """Bare's counterparts that touch PostgreSQL (``tests/bench/ceiling.py``): the most any
        endpoint that reads, or writes, one row could reach on this machine with this stack."""
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS bench_ceiling (id bigserial PRIMARY KEY, body text)"
        )
        env = self.hermod.env | {"DJANGO_SETTINGS_MODULE": "tests.bench.ceiling_settings"}
        self.ceiling_web, port = self._second_web(env, "ceiling-web", "the ceiling probes'")
        try:
            with ThreadPoolExecutor(self.options.web_workers * 2) as pool:
                list(pool.map(lambda _: self._warm(port), range(self.options.web_workers * 2)))
            figures: dict[str, Any] = {}
            for kind in ("read", "write"):

                def caller(index: int, path: str = f"/ceiling/{kind}") -> Callable[[], object]:
                    connection = Connection(self.host, port)
                    return lambda: expect_200(connection.request("GET", path), path)

                result = self._run(
                    f"ceiling {kind}", self.sizes.bare_callers, self.sizes.bare_seconds, caller
                )
                figures[kind] = self._throughput(result)
            self.results["ceiling"] = figures
        finally:
            self.ceiling_web.terminate()
            self.ceiling_web.wait(30)
            self.ceiling_web = None

    def _second_web(
        self, env: dict[str, str], log_name: str, what: str
    ) -> tuple[subprocess.Popen[bytes], int]:
        """Another gunicorn with the stack's options and ``env``, on a port of its own, once
        every worker has loaded the app; ``what`` names it in the error when it does not start."""
        port = free_port()
        argv = [PYTHON, "-m", "gunicorn", "hermod_core.wsgi", "--bind", f"127.0.0.1:{port}",
                "--workers", str(self.options.web_workers),
                *shlex.split(self.options.web_args)]  # fmt: skip
        with open(self.folder / f"{log_name}.log", "ab") as log:
            web = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", port):
            if time.monotonic() > deadline or web.poll() is not None:
                web.kill()
                raise BenchError(f"{what} gunicorn did not start")
            time.sleep(0.2)
        # The port opens before the workers have loaded the app: let every worker load it.
        time.sleep(5)
        return web, port

    def _warm(self, port: int) -> None:
        connection = Connection(self.host, port)
        for path in ("/ceiling/read", "/ceiling/write") * 20:
            expect_200(connection.request("GET", path), path)
        connection.close()

    def create(self) -> None:
        first = self._max_command_id()

        result = self._run(
            "create", self.sizes.create_callers, self.sizes.create_seconds, self._create_caller()
        )
        self.results["create"] = self._throughput(result)
        self._end_created_after(first)

    def _end_created_after(self, first: int) -> None:
        """The create phase's commands would otherwise wait in the devices' boxes: end them
        (CANCELLED, messages withdrawn) directly in the database, without callbacks."""
        self.db.execute(
            "UPDATE hermod_message SET state = 'WITHDRAWN' WHERE command_id > %s "
            "AND state IN ('WAITING', 'FETCHED')",
            (first,),
        )
        ended = self.db.execute(
            "UPDATE hermod_command SET state = 'CANCELLED', finished_at = now(), "
            "failure_code = 'BENCH' WHERE id > %s AND state = 'IN_PROGRESS'",
            (first,),
        ).rowcount
        data.tally(self.db, client=self.client_pk, change=-ended)

    def _max_command_id(self) -> int:
        row = self.db.execute("SELECT coalesce(max(id), 0) FROM hermod_command").fetchone()
        assert row is not None
        return int(row[0])

    def _round_trip_caller(
        self, accepted: dict[str, float], steps: list[tuple[float, ...]]
    ) -> Callable[[int], Any]:
        """Each caller is one device: create (client) → fetch → answer (device) → callback."""

        def caller(index: int) -> Callable[[], object]:
            bench_device = self.devices[index % len(self.devices)]
            connection = self.connection()
            body = json.dumps(
                {
                    "commandHeader": {"lifespan": 60, "timeout": 60, "externalId": "bench-rt"},
                    "authCommand": {"profileid": bench_device.profile_id},
                }
            ).encode()

            def call() -> object:
                t0 = time.perf_counter()
                response = connection.request("POST", AUTH_PATH, body, self.api_headers)
                created = json.loads(expect_200(response, "create"))
                command_id = created["commandId"]
                location = created["destinations"][0]["location"]
                arrived = self.receiver.expect(command_id)
                device, token = bench_device.device, bench_device.boxtoken
                t1 = time.perf_counter()
                message = device.fetch(location, token)
                t2 = time.perf_counter()
                outcome = device.answer(location, token, message)
                if not outcome.completed:
                    raise BenchError(f"answer to {command_id}: {outcome.as_json()}")
                t3 = time.perf_counter()
                accepted[command_id] = time.time()
                if not arrived.wait(30):
                    raise BenchError(f"no callback for command {command_id} within 30 s")
                t4 = time.perf_counter()
                steps.append((t1 - t0, t2 - t1, t3 - t2, t4 - t3))
                return None

            return call

        return caller

    def round_trip(self) -> None:
        accepted: dict[str, float] = {}
        steps: list[tuple[float, ...]] = []
        result = self._run(
            "round trip",
            len(self.devices),
            self.sizes.round_trip_seconds,
            self._round_trip_caller(accepted, steps),
        )
        self.results["round_trip"] = self._throughput(result) | {
            "devices": len(self.devices),
            "steps_ms": _steps(steps),
        }
        self.round_trip_rate = result.rate

    def callback_latency(self) -> None:
        accepted: dict[str, float] = {}
        steps: list[tuple[float, ...]] = []
        rate = self.round_trip_rate / 2
        result = self._run(
            "callback latency",
            len(self.devices),
            self.sizes.latency_seconds,
            self._round_trip_caller(accepted, steps),
            rate=rate,
        )
        window = list(accepted.items())
        ids = [int(cid) for cid, _ in window]
        finished: dict[str, float] = dict(
            self.db.execute(
                "SELECT id::text, extract(epoch FROM finished_at)::float8 FROM hermod_command "
                "WHERE id = ANY(%s)",
                (ids,),
            ).fetchall()
        )
        server = [self.receiver.arrived[cid] - float(finished[cid]) for cid, _ in window]
        device = [self.receiver.arrived[cid] - at for cid, at in window]
        self.results["callback_latency"] = {
            "target_rate": round(rate, 1),
            "achieved_rate": round(result.rate, 1),
            "ms": _ms(server),
            "device_observed_ms": _ms(device),
            "ratio_p99_to_bare_latency": round(percentile(server, 0.99) / self.bare_latency, 1),
            "round_trip_ms": _ms(result.latencies),
            "steps_ms": _steps(steps),
            "cpu_cores": result.cpu,
        }

    def await_quiet(self, phase: str) -> None:
        """Wait (up to ``--quiet-wait`` s) until nothing else keeps the machine busy: this
        stack is idle between phases, so what is busy now is other work on the machine."""
        deadline = time.monotonic() + self.options.quiet_wait
        sample = 1.0 if self.options.quiet_wait else 0.3
        busy = machine_busy_cores(sample)
        while busy > 0.3 and time.monotonic() < deadline:
            print(f"  waiting for other work to end ({busy:.2f} cores busy)", flush=True)
            time.sleep(5)
            busy = machine_busy_cores(sample)
        self.results.setdefault("busy_cores_before", {})[phase] = round(busy, 2)

    def _run(
        self,
        name: str,
        callers: int,
        seconds: float,
        make_caller: Callable[[int], Callable[[], object]],
        rate: float | None = None,
    ) -> PhaseResult:
        self.await_quiet(name)
        print(f"  {name}: {callers} callers, {seconds:g} s", flush=True)
        return run_loop(
            name,
            callers=callers,
            seconds=seconds,
            warmup=self.sizes.warmup,
            make_caller=make_caller,
            meter=self.meter,
            rate=rate,
        )

    def _throughput(self, result: PhaseResult) -> dict[str, Any]:
        figures: dict[str, Any] = {"per_s": round(result.rate, 1)}
        if result.name != "bare":
            figures["ratio_to_bare"] = round(result.rate / self.bare_rate, 3)
        generator = result.cpu.get("generator", 0.0)
        figures |= {
            "latency_ms": _ms(result.latencies),
            "cpu_cores": result.cpu,
            "generator_cpu_ms_per_op": round(1000 * generator / max(result.rate, 1e-9), 3),
        }
        return figures

    def _sequential_latency(self, path: str, headers: bytes, samples: int) -> float:
        connection = self.connection()
        for _ in range(10):
            expect_200(connection.request("GET", path, headers=headers), path)
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            expect_200(connection.request("GET", path, headers=headers), path)
            times.append(time.perf_counter() - started)
        return round(1000 * percentile(times, 0.5), 3)

    # --- scale ---------------------------------------------------------------------------------

    def fill_to(self, total: int) -> dict[str, Any]:
        """History rows up to ``total`` commands, then the database settled (``settle.py``:
        vacuum, checkpoint, quiet, warm indexes) so that the 1k and 1M timings start alike."""
        missing = max(0, total - data.command_count(self.db))
        seconds = data.insert_history(
            self.db, client=self.client_pk, group=self.group_pk, count=missing
        )
        settled = settle.settle(self.db)
        print(f"  scale: settled: {settle.describe(settled)}", flush=True)
        return {
            "commands": data.command_count(self.db),
            "inserted": missing,
            "insert_s": round(seconds, 1),
            "settled": settled,
        }

    def scale(self, label: str, total: int) -> None:
        print(f"  scale: filling the database to {total} commands", flush=True)
        figures = self.fill_to(total)
        self.await_quiet(f"scale {label}")
        timing_started = time.time()
        figures |= self._timed_reads({label: (self.connection(), self.db)})[label]
        # The machine's speed at this moment: a request that reads no table.
        figures["livez_p50_ms"] = self._sequential_latency("/livez", b"", self.sizes.samples)
        figures["autovacuum_during"] = settle.autovacuum_since(self.db, timing_started)
        if figures["autovacuum_during"]:
            print(f"  warning: autovacuum during the timing: {figures['autovacuum_during']}")
        self.results.setdefault("scale", {})[label] = figures

    def keep_small_copy(self) -> None:
        """A copy of the database as it is now, with its 1k commands (``SMALL_DATABASE`` in the
        same PostgreSQL): ``interleaved`` times it beside the 1M one."""
        self.postgres.copy_database(SMALL_DATABASE)

    def interleaved(self) -> None:
        """Poll, list and fetch timed against the 1M database and the copy of the 1k one kept
        earlier (``keep_small_copy``), served by a second gunicorn, a request of each in turn:
        the two sizes at the same moment, so that the machine's speed, which moves by a quarter
        within a run, moves both alike (docs/performance.md, "1M/1k")."""
        small_url = self.postgres.url_of(SMALL_DATABASE)
        # Its own broker database: nothing it publishes reaches the stack's worker.
        broker = self.redis.url.rsplit("/", 1)[0] + "/1"
        env = self.hermod.env | {"DATABASE_URL": small_url, "CELERY_BROKER_URL": broker}
        web, port = self._second_web(env, "small-web", "the 1k database's")
        small_db = psycopg.connect(small_url, autocommit=True)
        try:
            settled = settle.settle(small_db)
            print(f"  scale: 1k copy settled: {settle.describe(settled)}", flush=True)
            self.await_quiet("scale interleaved")
            timing_started = time.time()
            servers = {
                "small": (Connection(self.host, port), small_db),
                "large": (self.connection(), self.db),
            }
            figures: dict[str, Any] = self._timed_reads(servers)
            figures["ratio_p50"] = {
                kind: round(figures["large"][kind]["p50"] / figures["small"][kind]["p50"], 2)
                for kind in READS
            }
            figures["autovacuum_during"] = sorted(
                {*settle.autovacuum_since(self.db, timing_started),
                 *settle.autovacuum_since(small_db, timing_started)}
            )  # fmt: skip
            if figures["autovacuum_during"]:
                print(f"  warning: autovacuum during the timing: {figures['autovacuum_during']}")
            self.results["scale"]["interleaved"] = figures
        finally:
            web.terminate()
            web.wait(30)
            small_db.close()

    def _timed_reads(
        self, servers: dict[str, tuple[Connection, psycopg.Connection[Any]]]
    ) -> dict[str, Any]:
        """p50 and more of poll, list and fetch on each of ``servers`` (a connection to the
        server and one to its database, by name): a probe's message listed and fetched and a
        history command polled, on each server in turn, round after round, the servers' order
        alternating. The first ten rounds warm the connections and caches."""
        ranges = {}
        for name, (_, db) in servers.items():
            low, high = db.execute(
                "SELECT min(id), max(id) FROM hermod_command WHERE external_id = %s",
                (data.HISTORY,),
            ).fetchone() or (None, None)
            if low is None or high is None:
                raise BenchError("no history rows were inserted")
            ranges[name] = (int(low), int(high))
        rng = random.Random(7)
        timings: dict[str, dict[str, list[float]]] = {
            name: {kind: [] for kind in READS} for name in servers
        }
        order = list(servers)
        for round_ in range(self.sizes.samples + 10):
            bench_device, location = self.probes[round_ % len(self.probes)]
            bearer = f"Authorization: Bearer {bench_device.boxtoken}\r\n".encode()
            draw = rng.random()
            paths = {}
            for name, (_, db) in servers.items():
                low, high = ranges[name]
                # The first history row at or after a random id: ids between low and high may
                # belong to commands other phases created meanwhile (another client's: a 404).
                row = db.execute(
                    "SELECT min(id) FROM hermod_command WHERE external_id = %s AND id >= %s",
                    (data.HISTORY, low + int(draw * (high - low))),
                ).fetchone()
                assert row is not None  # min() gives a row
                paths[name] = {
                    "poll": (f"/hermod/rest/command/poll/{row[0]}", self.api_headers),
                    "list": ("/" + bench_device.boxurl.split("/", 3)[3], bearer),
                    "fetch": ("/" + location.split("/", 3)[3], bearer),
                }
            for kind in READS:
                for name in order:
                    path, headers = paths[name][kind]
                    started = time.perf_counter()
                    expect_200(servers[name][0].request("GET", path, headers=headers), path)
                    timings[name][kind].append(time.perf_counter() - started)
            order.reverse()
        for connection, _ in servers.values():
            connection.close()
        return {
            name: {kind: _ms(values[10:]) for kind, values in by_kind.items()}
            for name, by_kind in timings.items()
        }

    def _await_callbacks(self, command_ids: list[str], since: float) -> float:
        """Wait until the receiver has a callback of each command; the last one's arrival, in
        seconds after ``since`` (wall clock)."""
        deadline = time.time() + max(120.0, len(command_ids) / 20)
        while time.time() < deadline:
            if all(cid in self.receiver.arrived for cid in command_ids):
                return max(self.receiver.arrived[cid] for cid in command_ids) - since
            time.sleep(0.2)
        missing = sum(cid not in self.receiver.arrived for cid in command_ids)
        raise BenchError(f"{missing} of {len(command_ids)} EXPIRED callbacks never arrived")

    def _inserted_due(self, first: int, external_id: str) -> list[str]:
        return [
            str(row[0])
            for row in self.db.execute(
                "SELECT id FROM hermod_command WHERE id > %s AND external_id = %s",
                (first, external_id),
            ).fetchall()
        ]

    def burst(self) -> None:
        """``burst_rows`` commands due at the same moment (one UPDATE makes them due), swept as in
        production: by beat's schedule (a sweep task every ``HERMOD_SWEEP_INTERVAL`` s, each run
        expiring batch after batch for 0.8 of the interval) in the worker that also delivers
        their callbacks. The figure: that moment → the last EXPIRED callback received."""
        count = self.sizes.burst_rows
        print(f"  burst: {count} commands due at once, swept by beat", flush=True)
        # What earlier phases left in progress (the probes, a device's cut-off last round trip)
        # is ended first: beat would sweep it with the burst.
        self._end_created_after(0)
        first = self._max_command_id()
        data.insert_due(self.db, client=self.client_pk, group=self.group_pk, count=count, held=True)
        ids = self._inserted_due(first, data.BURST)
        data.analyze(self.db)
        self.await_quiet("burst")
        self.meter.start()
        due_at = time.time()
        released = data.release(self.db)
        if released != count:
            raise BenchError(f"the burst released {released} of {count} commands")
        seconds = self._await_callbacks(ids, due_at)
        cpu = self.meter.stop()
        self.results["burst"] = {
            "due": count,
            "among_commands": data.command_count(self.db),
            "called_back_s": round(seconds, 2),
            "per_s": round(count / seconds, 1),
            "cpu_cores": cpu,
        }

    def sweep(self) -> None:
        """The expiry sweep service over ``due_rows`` commands past their timeout, run again and
        again in one process until nothing is left, with beat stopped so that only this run
        sweeps; the worker delivers their callbacks meanwhile. The figures: the sweep's own time,
        and expiries/s including their callbacks (sweep start → last EXPIRED callback received)."""
        self.hermod.stop_beat()
        print(f"  sweep: {self.sizes.due_rows} due commands", flush=True)
        # A device's last loop of the round-trip phases is cut off by the phase's end and leaves
        # its command in progress; by now it is due too and would be counted with the 10k.
        self._end_created_after(0)
        first = self._max_command_id()
        data.insert_due(
            self.db, client=self.client_pk, group=self.group_pk, count=self.sizes.due_rows
        )
        data.analyze(self.db)
        due_ids = self._inserted_due(first, data.DUE)
        code = (
            "import json, time\n"
            "from django.conf import settings\n"
            "from django.db import connection\n"
            "from django.test.utils import CaptureQueriesContext\n"
            "from hermod_core.services.expiry import sweep\n"
            "batch = settings.HERMOD_SWEEP_BATCH\n"
            "started_at = time.time()\n"
            "started = time.perf_counter()\n"
            "cpu = time.process_time()\n"
            "with CaptureQueriesContext(connection) as first:\n"
            "    result = sweep(batch=batch)\n"
            "control = ('BEGIN', 'COMMIT', 'SAVEPOINT', 'RELEASE SAVEPOINT')\n"
            "statements = [q['sql'] for q in first.captured_queries]\n"
            "queries = [s for s in statements if not s.startswith(control)]\n"
            "runs, expired = 1, result.commands_expired\n"
            "first_expired = result.commands_expired\n"
            "while result.commands_expired or result.messages_expired:\n"
            "    result = sweep(batch=batch)\n"
            "    runs += 1\n"
            "    expired += result.commands_expired\n"
            "print(json.dumps({'seconds': time.perf_counter() - started, 'runs': runs,\n"
            "    'started_at': started_at, 'cpu_s': time.process_time() - cpu,\n"
            "    'expired': expired, 'batch': batch, 'first_run_queries': len(queries),\n"
            "    'first_run_transaction_statements': len(statements) - len(queries),\n"
            "    'first_run_expired': first_expired}))\n"
        )
        self.await_quiet("sweep")
        self.meter.start()
        output = self.hermod.manage("shell", "-c", code)
        figures = json.loads(output.strip().splitlines()[-1])
        if figures["expired"] != self.sizes.due_rows:
            raise BenchError(f"the sweep expired {figures['expired']} of {self.sizes.due_rows}")
        called_back = self._await_callbacks(due_ids, figures["started_at"])
        cpu = self.meter.stop()
        seconds = figures["seconds"]
        self.results["sweep"] = {
            "due": self.sizes.due_rows,
            "among_commands": data.command_count(self.db),
            "seconds": round(seconds, 2),
            "commands_per_s": round(self.sizes.due_rows / seconds, 1),
            "ratio_rate_to_bare": round(self.sizes.due_rows / seconds / self.bare_rate, 3),
            "sweep_cpu_s": round(figures["cpu_s"], 2),
            "sweep_runs": figures["runs"],
            "batch": figures["batch"],
            "queries_per_command": round(
                figures["first_run_queries"] / max(figures["first_run_expired"], 1), 3
            ),
            "transaction_statements_per_command": round(
                figures["first_run_transaction_statements"] / max(figures["first_run_expired"], 1),
                3,
            ),
            "called_back_s": round(called_back, 2),
            "expiries_per_s": round(self.sizes.due_rows / called_back, 1),
            "cpu_cores": cpu,
        }

    def expiry(self) -> None:
        """``--phases expiry``: the burst and sweep phases alone, on the filled database."""
        print(f"  filling the database to {self.sizes.large_rows} commands", flush=True)
        self.results["fill"] = self.fill_to(self.sizes.large_rows)
        self.burst()
        self.sweep()
        self.check_logs()
        print(json.dumps({k: self.results[k] for k in ("burst", "sweep")}, indent=2))

    def request_path(self) -> None:
        """Bare, the ceilings, create and round trips: the request path's throughput."""
        self.bare()
        self.ceiling()
        self.create()
        self.round_trip()

    def throughput(self) -> None:
        """``--phases throughput``: ``request_path`` alone."""
        self.request_path()
        kinds = ("bare", "ceiling", "create", "round_trip")
        print(json.dumps({kind: self.results[kind] for kind in kinds}, indent=2))

    # --- queries and profile -------------------------------------------------------------------

    def queries_arguments(self, repeat: int) -> dict[str, Any]:
        """What ``tests.bench.queries`` takes: the client's key, the first device's profile and
        box, and how many timed round trips."""
        device = self.devices[0]
        return {
            "api_key": self.api_key,
            "profile_id": device.profile_id,
            "boxtoken": device.boxtoken,
            "state_dir": str(device.state_dir),
            "repeat": repeat,
        }

    def count_queries(self) -> None:
        # CPU time too grows on a busy machine (shared caches and cores): measure on a quiet one,
        # after the push phase's devices and the workers' deliveries have ended.
        self.await_quiet("queries")
        arguments = self.queries_arguments(self.sizes.query_repeat)
        result = subprocess.run(
            [PYTHON, "-m", "tests.bench.queries", json.dumps(arguments)],
            cwd=ROOT,
            env=self.hermod.env | {"DJANGO_SETTINGS_MODULE": "hermod_core.settings"},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise BenchError(f"query count: {result.stderr[-2000:]}")
        self.results["queries"] = json.loads(result.stdout.strip().splitlines()[-1])

    def profile(self) -> None:
        """Profile the create and round-trip phases again (not measured: sampling slows them)."""
        if profile.py_spy() is None:
            raise BenchError("--profile needs py-spy: .venv/bin/pip install py-spy")
        out = self.options.out.parent / "profile"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        summaries: dict[str, Any] = {}
        seconds = max(self.sizes.create_seconds, 10)
        phases: dict[str, tuple[int, Callable[[int], Callable[[], object]]]] = {
            "create": (self.sizes.create_callers, self._create_caller()),
            "round_trip": (len(self.devices), self._round_trip_caller({}, [])),
        }
        for phase, (callers, caller) in phases.items():
            first = self._max_command_id()
            targets = {
                "web": self.hermod.web.pid if self.hermod.web else None,
                "workers": self.hermod.workers[0].pid if self.hermod.workers else None,
                "generator": os.getpid(),
            }
            recorders = {
                name: profile.record(
                    pid,
                    out / f"{phase}-{name}.txt",
                    seconds + self.sizes.warmup,
                    subprocesses=name != "generator",
                )
                for name, pid in targets.items()
                if pid is not None
            }
            time.sleep(1)  # py-spy attaches
            print(f"  profiling {phase}", flush=True)
            run_loop(
                f"profile {phase}",
                callers=callers,
                seconds=seconds,
                warmup=self.sizes.warmup,
                make_caller=caller,
            )
            for recorder in recorders.values():
                recorder.wait(timeout=60)
            if phase == "create":
                self._end_created_after(first)
            summaries[phase] = {
                name: profile.summarise(out / f"{phase}-{name}.txt")
                for name in recorders
                if (out / f"{phase}-{name}.txt").exists()
            }
        self.results["profile"] = summaries

    def _create_caller(self) -> Callable[[int], Callable[[], object]]:
        def caller(index: int) -> Callable[[], object]:
            connection = self.connection()
            body = json.dumps(
                {
                    "commandHeader": {
                        "to": [f"@{self.devices[index % len(self.devices)].userid}"],
                        "externalId": "bench-create",
                    },
                    "authCommand": {},
                }
            ).encode()
            return lambda: expect_200(
                connection.request("POST", AUTH_PATH, body, self.api_headers), "create"
            )

        return caller

    def check_logs(self) -> None:
        for log in sorted(self.hermod.folder.glob("*.log")):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                at = text.index("Traceback")
                raise BenchError(f"{log.name} shows a traceback:\n{text[at : at + 3000]}")
        if self.hermod.restarts:
            raise BenchError(f"{self.hermod.restarts} worker or beat restarts during the run")


# --- report --------------------------------------------------------------------------------------


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    bare = results["bare"]["per_s"]
    create = results["create"]["per_s"]
    round_trip = results["round_trip"]["per_s"]
    p99 = results["callback_latency"]["ms"]["p99"]
    # The sizes timed at the same moment; the figure timed minutes apart is shown beside it.
    worst = max(results["scale"]["interleaved"]["ratio_p50"].values())
    apart = max(results["scale"]["ratio_p50"].values())
    sweep, burst = results["sweep"], results["burst"]
    # What one INSERT per request reaches on this machine: the bound for anything that writes.
    write = results["ceiling"]["write"]["per_s"]
    bound = f"(one INSERT per request: {write:.0f})"
    create_cpu = results["queries"]["create"]["cpu_ms"]
    answer_cpu = results["queries"]["answer"]["cpu_ms"]
    return [
        {
            "target": "round trips/s x 4 >= 0.3 x ceiling write",
            "value": f"{4 * round_trip:.0f} vs {0.3 * write:.0f} (bare {bare:.0f})",
            "pass": 4 * round_trip >= 0.3 * write,
        },
        {
            "target": "create >= 0.4 x ceiling write",
            "value": f"{create:.0f} vs {0.4 * write:.0f} {bound}",
            "pass": create >= 0.4 * write,
        },
        {
            "target": "create CPU in one process <= 2 ms",
            "value": f"{create_cpu:.2f} ms",
            "pass": create_cpu <= 2,
        },
        {
            "target": "answer CPU in one process <= 5 ms",
            "value": f"{answer_cpu:.2f} ms",
            "pass": answer_cpu <= 5,
        },
        {"target": "callback p99 <= 100 ms", "value": f"{p99:.1f} ms", "pass": p99 <= 100},
        {
            "target": "large/small latency ratio <= 1.2 (timed interleaved)",
            "value": f"{worst:.2f} (worst of poll, list, fetch p50; timed minutes apart: "
            f"{apart:.2f})",
            "pass": worst <= 1.2,
        },
        {
            "target": "sweep >= 2,000 expiries/s with their callbacks received",
            "value": f"{sweep['expiries_per_s']:.0f}/s ({sweep['due']:,} in "
            f"{sweep['called_back_s']:.1f} s)",
            "pass": sweep["expiries_per_s"] >= 2000,
        },
        {
            "target": f"burst of {burst['due']:,} due: all called back <= 10 s",
            "value": f"{burst['called_back_s']:.1f} s",
            "pass": burst["called_back_s"] <= 10,
        },
    ]


def table(results: dict[str, Any]) -> str:
    bare = results["bare"]
    scale = results["scale"]
    small, large = scale["small"], scale["large"]
    latency = results["callback_latency"]
    sweep = results["sweep"]
    rt = results["round_trip"]
    rows = [
        ("bare: GET /livez", f"{bare['per_s']:.0f} req/s", "1.00"),
        *(
            (
                f"ceiling {kind}: one {what} per request",
                f"{results['ceiling'][kind]['per_s']:.0f} req/s",
                f"{results['ceiling'][kind]['ratio_to_bare']:.3f}",
            )
            for kind, what in (("read", "SELECT"), ("write", "INSERT"))
        ),
        (
            "create: POST authenticate",
            f"{results['create']['per_s']:.0f} req/s",
            f"{results['create']['ratio_to_bare']:.3f}",
        ),
        (
            f"round trip ({rt['devices']} devices)",
            f"{rt['per_s']:.1f} /s",
            f"{rt['ratio_to_bare']:.3f} (x4 = {4 * rt['ratio_to_bare']:.3f})",
        ),
        (
            f"callback latency at {latency['achieved_rate']:.0f}/s p50/p95/p99",
            f"{latency['ms']['p50']:.1f} / {latency['ms']['p95']:.1f} / "
            f"{latency['ms']['p99']:.1f} ms",
            f"p99 = {latency['ratio_p99_to_bare_latency']:.0f} x bare latency",
        ),
    ]
    for kind in ("poll", "list", "fetch"):
        rows.append(
            (
                f"{kind} p50 {small['commands']:,} / {large['commands']:,} commands",
                f"{small[kind]['p50']:.2f} / {large[kind]['p50']:.2f} ms",
                f"{large[kind]['ratio_p50_to_bare_latency']:.1f} x bare; "
                f"large/small {scale['ratio_p50'][kind]:.2f}",
            )
        )
    both = scale["interleaved"]
    for kind in READS:
        rows.append(
            (
                f"{kind} p50 interleaved, the same sizes",
                f"{both['small'][kind]['p50']:.2f} / {both['large'][kind]['p50']:.2f} ms",
                f"large/small {both['ratio_p50'][kind]:.2f}",
            )
        )
    rows.append(
        (
            f"sweep {sweep['due']:,} due among {sweep['among_commands']:,}",
            f"{sweep['seconds']:.1f} s ({sweep['commands_per_s']:.0f}/s)",
            f"{sweep['ratio_rate_to_bare']:.3f}",
        )
    )
    rows.append(
        (
            "  the same with their callbacks received",
            f"{sweep['called_back_s']:.1f} s ({sweep['expiries_per_s']:.0f}/s)",
            f"{sweep['expiries_per_s'] / bare['per_s']:.3f}",
        )
    )
    burst = results["burst"]
    rows.append(
        (
            f"burst {burst['due']:,} due at once, beat sweeping: all called back",
            f"{burst['called_back_s']:.1f} s ({burst['per_s']:.0f}/s)",
            f"{burst['per_s'] / bare['per_s']:.3f}",
        )
    )
    if "push_wake" in results:
        push = results["push_wake"]
        poll = push["poll_interval_for_same_latency_s"]
        rows.append(
            (
                "create → device woken by push p50/p95/p99",
                f"{push['woken_ms']['p50']:.1f} / {push['woken_ms']['p95']:.1f} / "
                f"{push['woken_ms']['p99']:.1f} ms",
                f"polling every {poll['p50']:.2f} s (p50) / {poll['p99']:.2f} s (p99)",
            )
        )
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    header = ("figure", "value", "ratio to bare")
    width = [max(w, len(h)) for w, h in zip(width, header, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, width, strict=True))]
    lines.append("  ".join("-" * w for w in width))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)) for r in rows]
    lines.append("")
    for item in results["targets"]:
        verdict = "PASS" if item["pass"] else "MISS"
        lines.append(f"{verdict}  {item['target']}: {item['value']}")
    lines.append("")
    lines.append("CPU cores used (of 2) per phase:")
    parts = ["web", "workers", "postgres", "redis", "beat", "generator", "other", "machine"]
    lines.append("  " + "phase".ljust(18) + "".join(p.rjust(10) for p in parts))
    phases = {
        phase: results[phase]
        for phase in ("bare", "create", "round_trip", "callback_latency", "burst", "sweep")
    }
    phases |= {f"ceiling_{kind}": figures for kind, figures in results["ceiling"].items()}
    for phase, figures in phases.items():
        cpu = figures["cpu_cores"]
        lines.append("  " + phase.ljust(18) + "".join(f"{cpu.get(p, 0):10.2f}" for p in parts))
    generator = ", ".join(
        f"{phase} {results[phase]['generator_cpu_ms_per_op']:.2f} ms"
        for phase in ("bare", "create", "round_trip")
    )
    lines.append(f"generator CPU per operation: {generator}")
    lines.append("")
    lines.append(
        "per request, in one process without gunicorn: queries / transaction statements / "
        "CPU ms (median)"
    )
    queries = results["queries"]
    lines.append(
        "  "
        + ", ".join(
            f"{name} {q['queries']} / {q['transaction_statements']} / {q['cpu_ms']:.1f}"
            for name, q in queries.items()
        )
    )
    sweep = results["sweep"]
    lines.append(
        f"  sweep per expired command: {sweep['queries_per_command']} queries / "
        f"{sweep['transaction_statements_per_command']} transaction statements"
    )
    steps = results["round_trip"]["steps_ms"]
    lines.append(
        "round trip steps p50 (ms): "
        + ", ".join(f"{name} {figures['p50']:.1f}" for name, figures in steps.items())
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--profile", action="store_true", help="py-spy profiles of two phases")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "latest.json")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn workers (4)")
    parser.add_argument("--worker-concurrency", type=int, default=4, help="Celery pool (4)")
    parser.add_argument(
        "--web-args",
        default="",
        help="more gunicorn options, e.g. '--worker-class gthread --threads 4'",
    )
    parser.add_argument("--devices", type=int, help="emulated devices (50; quick 6)")
    parser.add_argument(
        "--phases",
        choices=("all", "expiry", "throughput"),
        default="all",
        help="expiry: only the fill, burst and sweep phases (no devices); throughput: only bare, "
        "the ceilings, create and round trips (1k stored); their figures as JSON",
    )
    parser.add_argument("--due", type=int, help="commands due in the burst and the sweep")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before the run and each phase, wait up to SECONDS for other work on the machine "
        "to end (it skews every figure)",
    )
    options = parser.parse_args(argv)
    sizes = QUICK if options.quick else FULL
    if options.devices:
        sizes = Sizes(**{**sizes.__dict__, "devices": options.devices})
    if options.due:
        sizes = Sizes(**{**sizes.__dict__, "due_rows": options.due, "burst_rows": options.due})
    options.out.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="hermod-bench-"))
    bench = Bench(sizes, folder, options)
    env = {
        # Production defaults, where the stack's test settings differ.
        "HERMOD_SWEEP_INTERVAL": "2",
        "HERMOD_CALLBACK_RETRY_DELAY": "30",
        # A safety valve per client; the create phase leaves thousands in progress.
        "HERMOD_MAX_IN_PROGRESS": "10000000",
        # The limiters stay on (their Redis round trips are part of every request), with
        # budgets no phase reaches: one client and 50 boxes are far busier than real ones.
        "HERMOD_RATE_LIMIT_CLIENT": "1000000000",
        "HERMOD_RATE_LIMIT_BOX": "1000000000",
        # The push phase's devices are their own Web Push endpoints, on plain http.
        "HERMOD_PUSH_ALLOW_HTTP": "true",
    }
    background = machine_busy_cores()
    deadline = time.monotonic() + options.quiet_wait
    while background > 0.3 and time.monotonic() < deadline:
        print(f"waiting for the machine to be idle: {background:.2f} cores busy", flush=True)
        time.sleep(10)
        background = machine_busy_cores()
    started = time.time()
    print(f"Hermod benchmark ({'quick' if options.quick else 'full'}), stack in {folder}")
    if background > 0.3:
        print(f"warning: {background:.2f} of 2 cores already busy with other work")
    try:
        with hermod_stack(
            folder / "stack",
            workers=1,
            env=env,
            web_workers=options.web_workers,
            web_args=shlex.split(options.web_args),
            worker_concurrency=options.worker_concurrency,
        ) as (hermod, postgres, redis):
            bench.attach(hermod, postgres, redis)
            try:
                if options.phases == "expiry":
                    bench.expiry()
                    return bench.results
                bench.provision()
                bench.open_probes()
                bench.scale("small", sizes.small_rows)
                if options.phases == "throughput":
                    bench.throughput()
                    return bench.results
                bench.keep_small_copy()
                bench.request_path()
                bench.callback_latency()
                # Push (docs/push.md): create → device woken, against polling.
                bench.results["push_wake"] = push_wake.measure(
                    hermod,
                    folder / "push",
                    devices=2 if options.quick else 5,
                    count=20 if options.quick else 300,
                )
                bench.count_queries()
                if options.profile:
                    bench.profile()
                bench.scale("large", sizes.large_rows)
                bench.interleaved()
                bench.burst()  # beat sweeps it: before sweep(), which stops beat
                bench.sweep()
                bench.check_logs()
            finally:
                bench.receiver.stop()
                bench.db.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    results = bench.results
    scale = results["scale"]
    scale["ratio_p50"] = {
        kind: round(scale["large"][kind]["p50"] / scale["small"][kind]["p50"], 2)
        for kind in ("poll", "list", "fetch")
    }
    for size in ("small", "large"):
        for kind in ("poll", "list", "fetch"):
            figures = scale[size][kind]
            figures["ratio_p50_to_bare_latency"] = round(
                figures["p50"] / results["bare"]["sequential_p50_ms"], 1
            )
    results["targets"] = targets(results)
    results["run"] = {
        "command": "python -m tests.bench.run "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": options.quick,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "busy_cores_before_start": round(background, 2),
        },
        "stack": {
            "gunicorn_workers": options.web_workers,
            "gunicorn_args": options.web_args or "(sync workers)",
            "celery_workers": 1,
            "celery_concurrency": options.worker_concurrency,
            "env": env,
        },
        "sizes": sizes.__dict__,
    }
    options.out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table(results))
    print(f"\nJSON: {options.out}")
    return results


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        print(f"\nBENCHMARK BROKEN: {exc}", file=sys.stderr)
        sys.exit(1)
