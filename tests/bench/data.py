"""Bulk rows written straight into the stack's PostgreSQL (``INSERT … SELECT generate_series``).

The rows look like what months of authentication leave behind: one AUTH command per row, its
message answered in one of the benchmark devices' permanent boxes, its callback delivered, with
bodies of realistic size. ``insert_due`` writes commands past their timeout, still in progress,
for the expiry sweep to find. Table and column names are those of ``hermod_core/models`` and its
migration; every NOT NULL column is given, since Django keeps its defaults in Python.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import psycopg

HISTORY = "bench-history"
DUE = "bench-due"
BURST = "bench-burst"
CHUNK = 100_000


def _sample_bodies() -> dict[str, str]:
    jws = ".".join(
        base64.urlsafe_b64encode(bytes(range(n % 256)) * 2).decode().rstrip("=")
        for n in (60, 240, 250)
    )
    body = {
        "params": {
            "tbs": [
                {
                    "key": "challenge",
                    "description": "Authentication challenge",
                    "content_type": "application/octet-stream",
                    "content_encoding": "base64",
                    "data": base64.b64encode(bytes(32)).decode(),
                    "visible": False,
                }
            ]
        }
    }
    answer = {
        "responseHeader": {"inReplyTo": "http://127.0.0.1/hermod/rest/ms/b/m", "status": 200},
        "authResponse": {"code": 0, "result": {"contenttype": "jws", "data": jws}},
    }
    result = {
        **answer,
        "commandId": "0",
        "externalId": HISTORY,
        "destinations": [{"to": "profile", "bid": "b", "mid": "m", "location": "l"}],
        "commandType": "AUTH",
        "state": "COMPLETED",
        "fqdn": "127.0.0.1",
    }
    return {
        "header": json.dumps({"to": [], "lifespan": 300, "timeout": 300}),
        "body": json.dumps(body),
        "answer": json.dumps(answer),
        "result": json.dumps(result),
    }


_COMMANDS = """
WITH boxes AS (
    SELECT array_agg(profile_id ORDER BY id) AS pids, count(*) AS n
    FROM hermod_mailbox
    WHERE kind = 'PERMANENT' AND group_id = %(group)s AND closed_at IS NULL
), cmd AS (
    INSERT INTO hermod_command (
        client_id, group_id, command_type, state, external_id, lifespan, timeout, expires_at,
        header, body, answer, profile_id, failure_code, failure_reason, ca_state, ca_error,
        content_ready, created_at, finished_at)
    SELECT %(client)s, %(group)s, 'AUTH', %(state)s, %(external_id)s, 300, 300,
        t.at + interval '300 seconds', %(header)s::jsonb, %(body)s::jsonb, %(answer)s::jsonb,
        b.pids[1 + mod(g, b.n)], '', '', '', '', true, t.at, {finished}
    FROM generate_series(%(first)s::int, %(last)s::int) AS g
    CROSS JOIN boxes AS b
    CROSS JOIN LATERAL (SELECT {base} + g * {step} AS at) AS t
    RETURNING id, profile_id, created_at, finished_at
), msg AS (
    INSERT INTO hermod_message (
        id, command_id, mailbox_id, profile_id, "to", state, token_hash, token_sealed, expires_at,
        fetched_at, answered_at, created_at)
    SELECT gen_random_uuid(), cmd.id, m.id, cmd.profile_id, cmd.profile_id::text,
        %(message_state)s, encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'hex'), '',
        cmd.created_at + interval '300 seconds',
        CASE WHEN cmd.finished_at IS NULL THEN NULL ELSE cmd.created_at + interval '1 second' END,
        cmd.finished_at, cmd.created_at
    FROM cmd JOIN hermod_mailbox AS m ON m.profile_id = cmd.profile_id
    RETURNING 1
)
INSERT INTO hermod_callback_delivery (
    event_id, command_id, client_id, path, state, body, attempts, max_attempts, next_attempt_at,
    last_status, last_error, delivered_at, created_at, updated_at)
SELECT gen_random_uuid(), cmd.id, %(client)s, '/callback/authenticate', %(delivery_state)s,
    %(result)s::jsonb, %(attempts)s, 5, NULL, %(last_status)s, '',
    cmd.finished_at + interval '50 milliseconds', cmd.created_at,
    coalesce(cmd.finished_at, cmd.created_at)
FROM cmd
"""


def _insert(
    db: psycopg.Connection[Any],
    *,
    client: int,
    group: int,
    count: int,
    due: bool,
    held: bool = False,
) -> float:
    started = time.monotonic()
    bodies = _sample_bodies()
    if due:
        # Created ten minutes ago with a five-minute timeout: due, still in progress. Held ones
        # are created now: due in five minutes, unless released earlier (``release``).
        base = "now()" if held else "now() - interval '10 minutes'"
        sql = _COMMANDS.format(base=base, step="interval '0 seconds'", finished="NULL")
        params: dict[str, Any] = {
            "state": "IN_PROGRESS",
            "external_id": BURST if held else DUE,
            "answer": None,
            "message_state": "WAITING",
            "delivery_state": "WAITING",
            "result": None,
            "attempts": 0,
            "last_status": None,
        }
    else:
        # From 400 days ago, one command a second: older than anything the phases create.
        sql = _COMMANDS.format(
            base="now() - interval '400 days'",
            step="interval '1 second'",
            finished="t.at + interval '3 seconds'",
        )
        params = {
            "state": "COMPLETED",
            "external_id": HISTORY,
            "message_state": "ANSWERED",
            "delivery_state": "DELIVERED",
            "attempts": 1,
            "last_status": 200,
        }
    first = 1
    while first <= count:
        last = min(count, first + CHUNK - 1)
        db.execute(
            sql,
            {**bodies, **params, "client": client, "group": group, "first": first, "last": last},
        )
        first = last + 1
    return time.monotonic() - started


def insert_history(db: psycopg.Connection[Any], *, client: int, group: int, count: int) -> float:
    """``count`` completed AUTH commands with answered messages and delivered callbacks."""
    return _insert(db, client=client, group=group, count=count, due=False)


def insert_due(
    db: psycopg.Connection[Any], *, client: int, group: int, count: int, held: bool = False
) -> float:
    """``count`` AUTH commands past their timeout, still in progress (the sweep's work), counted
    in the client's in-progress tally as ``command_create`` would. ``held``: not due yet (their
    external id is ``BURST``) until ``release`` makes them all due at once."""
    seconds = _insert(db, client=client, group=group, count=count, due=True, held=held)
    tally(db, client=client, change=count)
    return seconds


def release(db: psycopg.Connection[Any]) -> int:
    """Make every held command due now, in one statement (one commit): a burst of due commands
    as an outage of the devices would leave. Returns how many."""
    return db.execute(
        "UPDATE hermod_command SET expires_at = now() WHERE external_id = %s "
        "AND state = 'IN_PROGRESS'",
        (BURST,),
    ).rowcount


def tally(db: psycopg.Connection[Any], *, client: int, change: int) -> None:
    """Add ``change`` to the client's in-progress tally (models.commands.InProgressTally)."""
    db.execute(
        "INSERT INTO hermod_in_progress_tally (client_id, slot, count) VALUES (%s, 0, %s) "
        "ON CONFLICT (client_id, slot) "
        "DO UPDATE SET count = hermod_in_progress_tally.count + excluded.count",
        (client, change),
    )


def analyze(db: psycopg.Connection[Any]) -> None:
    """Statistics for the planner, then a checkpoint: the bulk insert's dirty pages are written
    now rather than by the checkpointer while latencies are measured."""
    db.execute("VACUUM ANALYZE hermod_command, hermod_message, hermod_callback_delivery")
    db.execute("CHECKPOINT")


def command_count(db: psycopg.Connection[Any]) -> int:
    row = db.execute("SELECT count(*) FROM hermod_command").fetchone()
    assert row is not None
    return int(row[0])
