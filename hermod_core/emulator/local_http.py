"""A small local HTTP server that hands every POST to a function, in a daemon thread: the
reference device's own Web Push endpoint (``push.WebPushReceiver``) is one, and so are the
tests' callback receiver and content provider."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# (status, headers, body) of the answer to one POST
Answer = tuple[int, dict[str, str], bytes]
# what to answer to a POST of (path, headers, body)
Answerer = Callable[[str, dict[str, str], bytes], Answer]


class _Server(ThreadingHTTPServer):
    # A listen backlog like a real server's (nginx: 511): with Python's default of 5, a worker
    # sending a batch of callbacks at once sees connections reset that no receiver would reset.
    request_queue_size = 512

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_connections: set[socket.socket] = set()
        self.connections_accepted = 0
        self.connections_lock = threading.Lock()


def serve_posts(
    answer: Answerer,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: ssl.SSLContext | None = None,
    keep_alive: bool = False,
) -> ThreadingHTTPServer:
    """Listens on ``host:port`` (0: any free port, see the server's ``server_address``), over
    TLS when ``tls`` is given, and answers each POST with ``answer``. With ``keep_alive`` a
    connection serves one request after another (HTTP/1.1), as a production receiver does;
    without, it is closed after each answer (HTTP/1.0), so every POST connects anew."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def setup(self) -> None:
            super().setup()
            with server.connections_lock:
                server.open_connections.add(self.connection)
                server.connections_accepted += 1

        def finish(self) -> None:
            with server.connections_lock:
                server.open_connections.discard(self.connection)
            super().finish()

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            status, headers, body = answer(self.path, dict(self.headers.items()), raw)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

    server = _Server((host, port), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop_serving(server: ThreadingHTTPServer | None) -> None:
    """Stops a server of ``serve_posts`` (None: nothing to stop), ends its open connections and
    frees its port."""
    if server is not None:
        server.shutdown()
        server.server_close()
        if isinstance(server, _Server):  # kept-alive connections end too: the server is down
            with server.connections_lock:
                for connection in server.open_connections:
                    with contextlib.suppress(OSError):  # the client closed it meanwhile
                        connection.shutdown(socket.SHUT_RDWR)
