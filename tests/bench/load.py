"""The load generator: a lean HTTP/1.1 client, closed- and paced-loop runners, CPU accounting.

Every simulated caller is a thread with its own connection. The client below speaks just enough
HTTP/1.1 for a benchmark (Content-Length and chunked bodies, keep-alive when the server keeps the
connection, a new connection when it says ``Connection: close`` as gunicorn's sync workers do)
because ``http.client`` and ``requests`` spend several times more CPU per request, and on a
2-core machine every microsecond the generator spends is taken from the server it measures. The
generator's own CPU is measured in every phase (``CpuMeter``) and printed beside the results.
"""

from __future__ import annotations

import json as _json
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

_TICK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """Something is broken (an error, a non-200, a callback that never came): the run fails."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


class Connection:
    """One keep-alive HTTP/1.1 connection to ``host:port`` (reconnects when the server closes)."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._host_header = f"Host: {host}:{port}\r\n".encode()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock, self._buffer = None, b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._buffer = sock, b""
        return sock

    def request(self, method: str, path: str, body: bytes = b"", headers: bytes = b"") -> Response:
        """``headers``: ready-made ``Name: value\\r\\n`` lines (built once per caller)."""
        head = (
            f"{method} {path} HTTP/1.1\r\n".encode()
            + self._host_header
            + headers
            + (f"Content-Length: {len(body)}\r\n".encode() if body or method == "POST" else b"")
            + b"\r\n"
        )
        reused = self._sock is not None
        sock = self._sock or self._connect()
        try:
            sock.sendall(head + body)
            return self._read()
        except (ConnectionError, _EmptyResponse):
            # A kept-alive connection the server closed meanwhile: retry once on a new one.
            self.close()
            if not reused:
                raise
            self._connect().sendall(head + body)
            return self._read()
        except BaseException:
            self.close()
            raise

    def _fill(self) -> bool:
        assert self._sock is not None
        chunk = self._sock.recv(65536)
        self._buffer += chunk
        return bool(chunk)

    def _read(self) -> Response:
        while b"\r\n\r\n" not in self._buffer:
            if not self._fill():
                raise _EmptyResponse("the server closed the connection without answering")
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length: int | None = None
        chunked = close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if chunked:
            body = self._read_chunked()
        elif length is not None:
            while len(self._buffer) < length:
                if not self._fill():
                    raise ConnectionError("the body was cut short")
            body, self._buffer = self._buffer[:length], self._buffer[length:]
        else:
            while self._fill():
                pass
            body, close = self._buffer, True
        if close:
            self.close()
        return Response(status, body)

    def _read_chunked(self) -> bytes:
        parts = []
        while True:
            while b"\r\n" not in self._buffer:
                if not self._fill():
                    raise ConnectionError("chunked body cut short")
            size_line, _, self._buffer = self._buffer.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(self._buffer) < size + 2:
                if not self._fill():
                    raise ConnectionError("chunked body cut short")
            parts.append(self._buffer[:size])
            self._buffer = self._buffer[size + 2 :]
            if size == 0:
                return b"".join(parts)


class _EmptyResponse(ConnectionError):
    pass


@dataclass
class LeanResponse:
    """The part of a ``requests`` response the reference device reads."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return _json.loads(self.content)


class LeanSession:
    """What the reference device needs of a ``requests.Session`` (its mailbox client's
    ``request``), over one ``Connection``: the devices cost the generator several times less
    CPU per round trip, CPU the server it measures would otherwise lose. One per device; a device
    is driven by one thread at a time. The requests on the wire are the device's own: method,
    path with query, headers and JSON body."""

    def __init__(self, host: str, port: int) -> None:
        self.connection = Connection(host, port)
        self.verify = True  # read by the device's client (plain HTTP here: nothing to verify)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        json: Any = None,  # the requests keyword
        **ignored: Any,
    ) -> LeanResponse:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if params:
            path += ("&" if "?" in path else "?") + urlencode(params)
        lines = dict(headers or {})
        body = b""
        if json is not None:
            body = _json.dumps(json).encode()
            lines["Content-Type"] = "application/json"
        head = "".join(f"{name}: {value}\r\n" for name, value in lines.items()).encode()
        response = self.connection.request(method, path, body, head)
        return LeanResponse(response.status, response.body)


def expect_200(response: Response, what: str) -> bytes:
    if response.status != 200:
        raise BenchError(f"{what} answered {response.status}: {response.body[:300]!r}")
    return response.body


# --- CPU accounting ----------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def descendants(pid: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """``pid``'s living descendants (children first)."""
    children = _children() if children is None else children
    found, stack = [], list(children.get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(children.get(child, []))
    return found


def _cpu(pid: int, *, reaped: bool) -> float:
    fields = _stat(pid)
    if fields is None:
        return 0.0
    # utime, stime (own) and cutime, cstime (waited-for children that have exited).
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICK


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return (total - idle) / _TICK, total / _TICK


def machine_busy_cores(seconds: float = 2.0) -> float:
    """Cores the whole machine keeps busy over the next ``seconds``."""
    busy, total = _machine_busy()
    time.sleep(seconds)
    busy_after, total_after = _machine_busy()
    cores = os.cpu_count() or 1
    return cores * (busy_after - busy) / max(total_after - total, 1e-9)


@dataclass
class CpuMeter:
    """CPU seconds used by each part of the stack between ``start()`` and ``stop()``.

    A part is a process tree (the root, its living descendants and what its exited children
    used); ``generator`` is this process alone: load threads, emulated devices and the callback
    receiver.
    """

    trees: dict[str, Callable[[], Iterable[int]]]
    _begin: dict[str, float] = field(default_factory=dict)
    _machine: tuple[float, float] = (0.0, 0.0)
    _wall: float = 0.0

    def _sample(self) -> dict[str, float]:
        children = _children()
        result = {"generator": _cpu(os.getpid(), reaped=False)}
        for name, roots in self.trees.items():
            total = 0.0
            for root in roots():
                total += _cpu(root, reaped=True)
                total += sum(_cpu(p, reaped=True) for p in descendants(root, children))
            result[name] = total
        return result

    def start(self) -> None:
        self._begin = self._sample()
        self._machine = _machine_busy()
        self._wall = time.monotonic()

    def stop(self) -> dict[str, float]:
        """Cores used by each part (CPU seconds per second) and by the whole machine."""
        end = self._sample()
        busy, total = _machine_busy()
        wall = max(time.monotonic() - self._wall, 1e-9)
        cores = {name: round((end[name] - self._begin.get(name, 0.0)) / wall, 2) for name in end}
        ours = sum(cores.values())
        cores["machine"] = round((busy - self._machine[0]) / wall, 2)
        # Anything else running on the machine meanwhile (it skews every figure: keep it ~0).
        cores["other"] = round(max(0.0, cores["machine"] - ours), 2)
        cores["machine_cores"] = round((total - self._machine[1]) / wall, 2)
        return cores


# --- runners -----------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    name: str
    seconds: float
    count: int
    latencies: list[float]
    cpu: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def run_loop(
    name: str,
    *,
    callers: int,
    seconds: float,
    warmup: float,
    make_caller: Callable[[int], Callable[[], object]],
    meter: CpuMeter | None = None,
    rate: float | None = None,
) -> PhaseResult:
    """``callers`` threads, each calling its operation in a loop for ``warmup + seconds``.

    Closed loop (the next call starts when the last ended) unless ``rate`` is given: then the
    callers together start ``rate`` calls per second, evenly spread (a caller that falls behind
    starts its next call at once). Only calls that start and end inside the measured window
    count. The first failure stops the phase and raises ``BenchError``.
    """
    operations = [make_caller(index) for index in range(callers)]
    stop = threading.Event()
    failures: list[BaseException] = []
    done: list[list[float]] = [[] for _ in range(callers)]
    begin = time.monotonic() + 0.2
    window = (begin + warmup, begin + warmup + seconds)
    interval = callers / rate if rate else 0.0

    def loop(index: int) -> None:
        operation, mine = operations[index], done[index]
        next_start = begin + (random.uniform(0, interval) if interval else 0.0)
        while not stop.is_set():
            now = time.monotonic()
            if next_start > now:
                time.sleep(next_start - now)
            started = time.monotonic()
            if started >= window[1]:
                return
            try:
                operation()
            except BaseException as exc:
                failures.append(exc)
                stop.set()
                return
            ended = time.monotonic()
            if started >= window[0] and ended <= window[1]:
                mine.append(ended - started)
            if interval:
                next_start = max(next_start + interval, ended)

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(callers)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, window[0] - time.monotonic()))
    if meter is not None:
        meter.start()
    time.sleep(max(0.0, window[1] - time.monotonic()))
    cpu = meter.stop() if meter is not None else {}
    for thread in threads:
        thread.join(timeout=120)
    if any(thread.is_alive() for thread in threads):
        stop.set()
        raise BenchError(f"{name}: a caller did not finish within 120 s after the window")
    if failures:
        raise BenchError(f"{name}: {failures[0]!r}") from failures[0]
    latencies = [value for mine in done for value in mine]
    if not latencies:
        raise BenchError(f"{name}: no call completed inside the measured window")
    return PhaseResult(name, seconds, len(latencies), latencies, cpu)
