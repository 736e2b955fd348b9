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
4. warms the indexes that poll, list and fetch read and the small tables every request reads
   (``pg_prewarm`` into shared buffers, as much as fits in three quarters of them, when the
   server has the extension; else a read pass).
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

FILLED = ("hermod_command", "hermod_message", "hermod_callback_delivery")
# The indexes poll (a command by id, its messages, its callback), list (a box's live messages)
# and fetch (a message by id) read, by table and first column; and the small tables every
# request reads whole (clients, boxes, profiles, keys).
USED = {
    "hermod_command": ("id",),
    "hermod_message": ("id", "command_id", "mailbox_id"),
    "hermod_callback_delivery": ("command_id",),
}
SMALL = ("hermod_client", "hermod_mailbox", "hermod_profile", "hermod_key")

_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_relation_size(i.indexrelid)
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indrelid::regclass::text = %s AND a.attname = ANY(%s)
ORDER BY 1
"""
_OTHERS_BUSY = """
SELECT backend_type, coalesce(left(query, 60), '')
FROM pg_stat_activity
WHERE pid <> pg_backend_pid()
  AND (backend_type = 'autovacuum worker'
       OR (backend_type = 'client backend' AND state = 'active'
           AND query_start < now() - interval '1 second'))
"""


def _indexes(db: psycopg.Connection[Any]) -> list[tuple[str, int]]:
    found = []
    for table, columns in USED.items():
        rows = db.execute(_INDEXES, (table, list(columns))).fetchall()
        found += [(str(name), int(size)) for name, size in rows]
    return found


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
    """Load the used indexes and the small tables into shared buffers, as many as fit in three
    quarters of them (more would evict what was just loaded)."""
    (buffers,) = db.execute(
        "SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'"
    ).fetchone() or (0,)
    room = int(buffers) * 3 // 4
    relations = []
    for name, size in _indexes(db):
        if size <= room:
            relations.append(name)
            room -= size
    relations += list(SMALL)
    pages = 0
    try:
        db.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    except psycopg.Error:
        method = "read pass (no pg_prewarm)"
        for table in (*USED, *SMALL):
            db.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
    else:
        method = "pg_prewarm"
        for relation in relations:
            row = db.execute("SELECT pg_prewarm(%s::regclass)", (relation,)).fetchone()
            pages += int(row[0]) if row else 0
    return {"method": method, "relations": relations, "pages": pages}


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


def autovacuum_since(db: psycopg.Connection[Any], since: float) -> list[str]:
    """Tables an autovacuum worked on after ``since`` (a Unix time) or works on now: what would
    have skewed the latencies timed meanwhile (after the fill it made all three 1.5-1.8 x)."""
    rows = db.execute(
        "SELECT relname FROM pg_stat_user_tables WHERE greatest(last_autovacuum, "
        "last_autoanalyze) > to_timestamp(%s) UNION SELECT query FROM pg_stat_activity "
        "WHERE backend_type = 'autovacuum worker'",
        (since,),
    ).fetchall()
    return sorted(str(name) for (name,) in rows)


def describe(done: dict[str, Any]) -> str:
    warm = done["prewarm"]
    seen = "; ".join(done["seen_running"]) or "nothing"
    return (
        f"VACUUM (ANALYZE) {done['vacuum_analyze_s']} s, CHECKPOINT {done['checkpoint_s']} s, "
        f"waited {done['waited_for_idle_s']} s for quiet (seen: {seen}), "
        f"{warm['method']}: {warm['pages']} pages of {len(warm['relations'])} relations "
        f"in {warm['seconds']} s"
    )
