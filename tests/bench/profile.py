"""Sampling profiles of the web and worker processes with py-spy, summarised.

py-spy is a tool, not a dependency: ``.venv/bin/pip install py-spy``. Samples are taken with
``--gil``: only threads holding the GIL count, so the shares below are shares of Python CPU time
(waits on PostgreSQL, Redis or a socket are not in them; C code that releases the GIL neither).
``--subprocesses`` follows gunicorn's and Celery's forked children.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")

# Where CPU goes: the category of the frame nearest the top of the stack that has one.
CATEGORIES = [
    ("JWS/crypto (verify, sign, HMAC)", ("cryptography", "/jwt/", "hermod_core/crypto", "hmac")),
    ("PostgreSQL driver (psycopg)", ("psycopg",)),
    ("Django ORM (query building)", ("django/db/models",)),
    ("Django DB backend / transactions", ("django/db/",)),
    ("Celery/kombu/redis (enqueue, consume)", ("celery/", "kombu/", "/redis/", "billiard/")),
    ("HTTP client (requests, urllib3)", ("requests/", "urllib3/", "http/client")),
    ("logging", ("logging/",)),
    ("JSON", ("json/",)),
    ("DRF", ("rest_framework/",)),
    ("Django request/middleware/urls", ("django/",)),
    ("gunicorn", ("gunicorn/",)),
    ("hermod code", ("hermod_core/",)),
]


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def record(
    pid: int, output: Path, seconds: float, *, subprocesses: bool = True
) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` (and its children) for ``seconds`` (raw collapsed stacks)."""
    binary = py_spy()
    assert binary is not None
    return subprocess.Popen(
        [binary, "record", "--pid", str(pid), *(["--subprocesses"] if subprocesses else []),
         "--gil", "--nonblocking", "--rate", "200", "--format", "raw",
         "--duration", str(int(seconds)), "--output", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for part in stack.split(";"):
        match = _FRAME.match(part.strip())
        if match and not part.startswith(("process ", "thread ")):
            file = match["file"]
            for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
                if marker in file:
                    file = file.split(marker, 1)[1]
            frames.append((match["func"], file))
    return frames


def _category(frames: list[tuple[str, str]]) -> str:
    """The category of the frame nearest the top of the stack that belongs to one."""
    for _, file in reversed(frames):
        for label, markers in CATEGORIES:
            if any(marker in file for marker in markers):
                return label
    return "other"


def summarise(path: Path, top: int = 12) -> dict[str, Any]:
    """Self time and inclusive time (share of samples) per function, and per category."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if not frames:
            continue
        total += count
        func, file = frames[-1]
        self_time[f"{func} ({file})"] += count
        for name in {f"{f} ({p})" for f, p in frames if "hermod_core/" in p}:
            inclusive[name] += count
        categories[_category(frames)] += count

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(top)]

    return {
        "samples": total,
        "self_pct": share(self_time) if total else [],
        "hermod_inclusive_pct": share(inclusive) if total else [],
        "category_pct": share(categories) if total else [],
    }
