"""SQL statements and server CPU per request type, measured against the benchmark stack's database.

Run by the harness as a subprocess with the stack's environment (``python -m
tests.bench.queries <json arguments>``): authenticate round trips — create, poll, box list,
fetch, answer — then the callback delivery of each command, as the worker runs it. The first
round trip goes through Django's test client and is recorded with ``CaptureQueriesContext``. The
next ``repeat`` are timed (CPU time of this process, so other processes on the machine hardly
matter), each request made twice in turn: called as gunicorn calls the application (a WSGI
environ built beforehand, the response iterated and closed: ``cpu_ms``, ``wall_ms``), and through
the test client as this harness did before (``test_client_cpu_ms``: its own request building,
signals and response wrapping included, the connection health check of every request left out).
Enqueueing is replaced by a recorder, so that this process, not a worker, delivers the callbacks
it measures. Prints one JSON object.
"""

from __future__ import annotations

import cProfile
import io
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
STEPS = ("create", "poll", "list", "fetch", "answer", "callback")
WAYS = ("wsgi", "test_client")


def _captured(context: Any) -> dict[str, Any]:
    """Queries (round trips to PostgreSQL that read or write) and transaction-control statements.

    Not seen here: the ``SELECT 1`` of ``CONN_HEALTH_CHECKS`` that Django runs outside its cursor
    wrapper at the first query of every request.
    """
    statements = [q["sql"] for q in context.captured_queries]
    queries = [s for s in statements if not s.startswith(_CONTROL)]
    return {
        "queries": len(queries),
        "transaction_statements": len(statements) - len(queries),
        "sql": [s[:200] for s in queries],
    }


@dataclass(frozen=True)
class _Response:
    status_code: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class _Wsgi:
    """The application called as gunicorn calls it: a WSGI environ built beforehand (gunicorn's
    work, not the server's), the response iterated and closed (which sends
    ``request_finished``)."""

    def __init__(self) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.handler = WSGIHandler()

    def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> Callable[[], _Response]:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "RAW_URI": path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": "50000",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        if body:
            environ["CONTENT_TYPE"] = "application/json"
            environ["CONTENT_LENGTH"] = str(len(body))
        for name, value in headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        status: list[str] = []

        def start_response(line: str, headers: list[tuple[str, str]], *_: Any) -> None:
            status.append(line)

        def call() -> _Response:
            iterable = self.handler(environ, start_response)
            try:
                content = b"".join(iterable)
            finally:
                iterable.close()
            return _Response(int(status[0].split(" ", 1)[0]), content)

        return call


class _TestClient:
    """Django's test client, as this harness measured before (its own request building,
    signals and response wrapping included)."""

    def __init__(self) -> None:
        from django.test import Client

        self.client = Client(HTTP_HOST="127.0.0.1")

    def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> Callable[[], Any]:
        if method == "GET":
            return lambda: self.client.get(path, headers=headers)
        return lambda: self.client.post(
            path, body, content_type="application/json", headers=headers
        )


def main(arguments: dict[str, Any]) -> dict[str, Any]:
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from hermod_core.emulator.device import Device
    from hermod_core.services import dispatch
    from hermod_core.services.callbacks import callback_deliver

    enqueued: list[int] = []

    def record_send(name: str, args: list[object], countdown: float | None) -> None:
        if name == "hermod.callbacks.deliver":
            enqueued.append(int(str(args[0])))

    def record_send_each(name: str, ids: list[int]) -> None:
        for one in ids:
            record_send(name, [one], None)

    dispatch._send = record_send  # type: ignore[assignment]
    dispatch._send_each = record_send_each  # type: ignore[assignment]
    emulator = Device(Path(arguments["state_dir"]))
    key = {"X-Api-Key": arguments["api_key"]}
    bearer = {"Authorization": f"Bearer {arguments['boxtoken']}"}
    prefix = "/hermod/rest"
    body = json.dumps(
        {
            "commandHeader": {"externalId": "bench-queries"},
            "authCommand": {"profileid": arguments["profile_id"]},
        }
    ).encode()

    def round_trip(
        run: Callable[[str, Callable[[], Any]], Any], server: _Wsgi | _TestClient
    ) -> None:
        created = run(
            "create",
            server.request("POST", f"{prefix}/command/authenticate", key, body),
        )
        location = created["destinations"][0]["location"]
        path = "/" + location.split("/", 3)[3]
        run("poll", server.request("GET", f"{prefix}/command/poll/{created['commandId']}", key))
        run("list", server.request("GET", path.rsplit("/", 1)[0], bearer))
        message = run("fetch", server.request("GET", path, bearer))
        answer = emulator.build_answer(location, message).body
        run("answer", server.request("POST", path, bearer, json.dumps(answer).encode()))
        if len(enqueued) != 1:
            raise SystemExit(f"expected one callback enqueued, got {enqueued!r}")
        delivery_id = enqueued.pop()

        class Delivered:
            status_code = 200

            def json(self) -> None:
                return None

        def deliver() -> Delivered:
            state = callback_deliver(delivery_id=delivery_id)
            if state != "DELIVERED":
                raise SystemExit(f"the callback was not delivered: {state}")
            return Delivered()

        run("callback", deliver)

    counted: dict[str, Any] = {}

    def count(name: str, call: Callable[[], Any]) -> Any:
        with CaptureQueriesContext(connection) as context:
            response = call()
        if response.status_code != 200:
            raise SystemExit(f"{name} answered {response.status_code}: {response.content[:300]!r}")
        counted[name] = _captured(context)
        return response.json()

    # Each way of calling the server keeps its own CPU and wall times per step.
    cpu: dict[str, dict[str, list[float]]] = {way: {s: [] for s in STEPS} for way in WAYS}
    wall: dict[str, dict[str, list[float]]] = {way: {s: [] for s in STEPS} for way in WAYS}

    # With "profile": a folder, each step's calls are also profiled (cProfile of CPU time,
    # <way>-<step>.prof there); the CPU figures then include the profiler's.
    profiles = {
        (way, step): cProfile.Profile(time.process_time)
        for way in (WAYS if arguments.get("profile") else ())
        for step in STEPS
    }

    def timed(way: str) -> Callable[[str, Callable[[], Any]], Any]:
        def run(name: str, call: Callable[[], Any]) -> Any:
            profiler = profiles.get((way, name))
            started, started_cpu = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            response = call()
            if profiler is not None:
                profiler.disable()
            cpu[way][name].append(time.process_time() - started_cpu)
            wall[way][name].append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(
                    f"{name} answered {response.status_code}: {response.content[:300]!r}"
                )
            return response.json()

        return run

    servers = {"wsgi": _Wsgi(), "test_client": _TestClient()}
    round_trip(count, servers["test_client"])
    for way in WAYS:
        round_trip(timed(way), servers[way])  # warm
    for way in WAYS:
        for values in (*cpu[way].values(), *wall[way].values()):
            values.clear()
    # The two ways alternate, so that a change of the machine's speed touches both alike.
    for _ in range(int(arguments.get("repeat", 20))):
        for way in WAYS:
            round_trip(timed(way), servers[way])
    for (way, name), profiler in profiles.items():
        profiler.dump_stats(Path(arguments["profile"]) / f"{way}-{name}.prof")
    for name in STEPS:
        figures = counted[name]
        figures["cpu_ms"] = round(1000 * statistics.median(cpu["wsgi"][name]), 2)
        figures["wall_ms"] = round(1000 * statistics.median(wall["wsgi"][name]), 2)
        figures["test_client_cpu_ms"] = round(1000 * statistics.median(cpu["test_client"][name]), 2)
    return counted


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
