"""SQL statements and server CPU per request type, measured against the benchmark stack's database.

Run by the harness as a subprocess with the stack's environment (``python -m
tests.bench.queries <json arguments>``): authenticate round trips through Django's test client
(the full middleware stack, in this process, without gunicorn) — create, poll, box list, fetch,
answer — then the callback delivery of each command, as the worker runs it. The first round trip
is recorded with ``CaptureQueriesContext``; the next ``repeat`` are timed (CPU time of this
process, so other processes on the machine hardly matter). Enqueueing is replaced by a recorder,
so that this process, not a worker, delivers the callbacks it measures. Prints one JSON object.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
STEPS = ("create", "poll", "list", "fetch", "answer", "callback")


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


def main(arguments: dict[str, Any]) -> dict[str, Any]:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
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
    client = Client(HTTP_HOST="127.0.0.1", HTTP_X_API_KEY=arguments["api_key"])
    device = Client(HTTP_HOST="127.0.0.1")
    bearer = {"Authorization": f"Bearer {arguments['boxtoken']}"}
    prefix = "/hermod/rest"
    body = {
        "commandHeader": {"externalId": "bench-queries"},
        "authCommand": {"profileid": arguments["profile_id"]},
    }

    def round_trip(run: Callable[[str, Callable[[], Any]], Any]) -> None:
        created = run(
            "create",
            lambda: client.post(
                f"{prefix}/command/authenticate", body, content_type="application/json"
            ),
        )
        location = created["destinations"][0]["location"]
        path = "/" + location.split("/", 3)[3]
        run("poll", lambda: client.get(f"{prefix}/command/poll/{created['commandId']}"))
        run("list", lambda: device.get(path.rsplit("/", 1)[0], headers=bearer))
        message = run("fetch", lambda: device.get(path, headers=bearer))
        answer = emulator.build_answer(location, message).body
        run(
            "answer",
            lambda: device.post(path, answer, content_type="application/json", headers=bearer),
        )
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

    cpu: dict[str, list[float]] = {step: [] for step in STEPS}
    wall: dict[str, list[float]] = {step: [] for step in STEPS}

    def timed(name: str, call: Callable[[], Any]) -> Any:
        started, started_cpu = time.perf_counter(), time.process_time()
        response = call()
        cpu[name].append(time.process_time() - started_cpu)
        wall[name].append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{name} answered {response.status_code}: {response.content[:300]!r}")
        return response.json()

    round_trip(count)
    round_trip(timed)  # warm
    for values in (*cpu.values(), *wall.values()):
        values.clear()
    for _ in range(int(arguments.get("repeat", 20))):
        round_trip(timed)
    for name in STEPS:
        counted[name]["cpu_ms"] = round(1000 * statistics.median(cpu[name]), 2)
        counted[name]["wall_ms"] = round(1000 * statistics.median(wall[name]), 2)
    return counted


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
