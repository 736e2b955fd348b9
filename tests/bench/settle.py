"""The bench PostgreSQL in a known state before latencies are timed (docs/performance.md, "1M/1k").

The 1k and the 1M latencies are measured minutes apart, after different work: without this, what
PostgreSQL happens to be doing then (writing back the bulk fill, an autovacuum of the filled
tables, indexes half in its buffers) lands in one figure and not in the other. ``settle`` does
the same before both, in this order, and says what it did:

1. ``VACUUM (ANALYZE)`` of the filled tables: planner statistics, hint bits and the visibility
   map set now (a first read of each new row would otherwise write its page), and autovacuum's
   counters reset so that it has no reason to start on them during the timing;
2. ``CHECKPOINT``: every dirty page written now, not by the checkpointer meanwhile;
3. waits until no autovacuum worker and no other long statement runs (``pg_stat_activity``);
4. warms the indexes that poll, list and fetch read (``pg_prewarm`` into shared buffers when the
   server has the extension, else one read pass over each).
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

FILLED = ("hermod_command", "hermod_message", "hermod_callback_delivery")
# What poll (a command by id, its messages, its callback), list (a box's live messages) and fetch
# (a message by id in its box, its command) read: every index of these tables, and the tables
# whose rows all requests read (clients, boxes, profiles, keys), heap too.
INDEXED = (*FILLED, "hermod_mailbox")
SMALL = ("hermod_client", "hermod_mailbox", "hermod_profile", "hermod_key")

_OTHERS_BUSY = """
SELECT backend_type, coalesce(left(query, 60), '')
FROM pg_stat_activity
WHERE pid <> pg_backend_pid()
  AND (backend_type = 'autovacuum worker'
       OR (backend_type = 'client backend' AND state = 'active'
           AND query_start < now() - interval '1 second'))
"""


def _indexes(db: psycopg.Connection[Any]) -> list[tuple[str, int]]:
    rows = db.execute(
        "SELECT i.indexrelid::regclass::text, pg_relation_size(i.indexrelid) "
        "FROM pg_index i WHERE i.indrelid::regclass::text = ANY(%s) ORDER BY 1",
        (list(INDEXED),),
    ).fetchall()
    return [(str(name), int(size)) for name, size in rows]


def _await_idle(db: psycopg.Connection[Any], timeout: float) -> tuple[float, list[str]]:
    """Seconds waited until nothing else runs in PostgreSQL (two looks 0.5 s apart), and what
    was seen running meanwhile."""
    started = time.monotonic()
    seen: set[str] = set()
    quiet = 0
    while quiet < 2 and time.monotonic() - started < timeout:
        busy = db.execute(_OTHERS_BUSY).fetchall()
        seen |= {f"{kind}: {query}".strip() for kind, query in busy}
        quiet = 0 if busy else quiet + 1
        time.sleep(0.5)
    return time.monotonic() - started, sorted(seen)


def _prewarm(db: psycopg.Connection[Any]) -> dict[str, Any]:
    relations = [name for name, _ in _indexes(db)] + list(SMALL)
    try:
        db.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    except psycopg.Error:
        method = "read pass (no pg_prewarm)"
        pages = 0
        for table in FILLED:
            # An index-only count reads the primary key index from end to end.
            db.execute("SET enable_seqscan = off")
            db.execute(f"SELECT count(*) FROM {table} WHERE id IS NOT NULL")  # noqa: S608
            db.execute("RESET enable_seqscan")
        for table in SMALL:
            db.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
    else:
        method = "pg_prewarm"
        pages = 0
        for relation in relations:
            row = db.execute("SELECT pg_prewarm(%s::regclass)", (relation,)).fetchone()
            pages += int(row[0]) if row else 0
    return {"method": method, "relations": len(relations), "pages": pages}


def settle(db: psycopg.Connection[Any], *, idle_timeout: float = 60.0) -> dict[str, Any]:
    """Vacuum and analyze, checkpoint, wait for quiet, warm the indexes (module docstring);
    returns what was done with its timings."""
    done: dict[str, Any] = {}
    started = time.monotonic()
    db.execute(f"VACUUM (ANALYZE) {', '.join(FILLED)}")
    done["vacuum_analyze_s"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    db.execute("CHECKPOINT")
    done["checkpoint_s"] = round(time.monotonic() - started, 1)
    waited, seen = _await_idle(db, idle_timeout)
    done["waited_for_idle_s"] = round(waited, 1)
    done["seen_running"] = seen
    started = time.monotonic()
    done["prewarm"] = _prewarm(db) | {"seconds": round(time.monotonic() - started, 1)}
    return done


def describe(done: dict[str, Any]) -> str:
    warm = done["prewarm"]
    seen = "; ".join(done["seen_running"]) or "nothing"
    return (
        f"VACUUM (ANALYZE) {done['vacuum_analyze_s']} s, CHECKPOINT {done['checkpoint_s']} s, "
        f"waited {done['waited_for_idle_s']} s for quiet (seen: {seen}), "
        f"{warm['method']}: {warm['pages']} pages of {warm['relations']} relations "
        f"in {warm['seconds']} s"
    )
