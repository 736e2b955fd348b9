"""A small local HTTP server that hands every POST to a function, in a daemon thread: the
reference device's own Web Push endpoint (``push.WebPushReceiver``) is one, and so are the
tests' callback receiver and content provider."""

from __future__ import annotations

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


def serve_posts(
    answer: Answerer, *, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
) -> ThreadingHTTPServer:
    """Listens on ``host:port`` (0: any free port, see the server's ``server_address``), over
    TLS when ``tls`` is given, and answers each POST with ``answer``."""

    class Handler(BaseHTTPRequestHandler):
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
    """Stops a server of ``serve_posts`` (None: nothing to stop) and frees its port."""
    if server is not None:
        server.shutdown()
        server.server_close()
