"""Run the whole product on one machine: web server, Celery worker and beat (``make run``)."""

import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand


def gunicorn_argv(python: str, bind: str, workers: int) -> list[str]:
    """The web server as ``serve`` starts it, access lines redacted (``gunicorn_conf``)."""
    config = "python:hermod_core.gunicorn_conf"
    return [python, "-m", "gunicorn", "hermod_core.wsgi", "--config", config, "--bind", bind,
            "--workers", str(workers)]  # fmt: skip


class Command(BaseCommand):
    help = (
        "Serve the API, console and /healthz with gunicorn (HTTPS with HERMOD_TLS_CERT_FILE + "
        "HERMOD_TLS_KEY_FILE or HERMOD_TLS_P12_FILE + HERMOD_TLS_P12_PASSWORD), beside a Celery "
        "worker and beat."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")

    def handle(self, *args: Any, **options: Any) -> None:
        bind = f"{options['host']}:{settings.PORT}"
        python = sys.executable
        commands = {
            "worker": [python, "-m", "celery", "-A", "celery_app", "worker", "--loglevel", "INFO",
                       "--concurrency", "2"],
            "beat": [python, "-m", "celery", "-A", "celery_app", "beat", "--loglevel", "INFO"],
            "web": gunicorn_argv(python, bind, options["workers"]),
        }  # fmt: skip
        children = {name: subprocess.Popen(argv) for name, argv in commands.items()}  # noqa: S603
        scheme = "https" if settings.HERMOD_TLS_FILES else "http"
        self.stdout.write(f"Hermod on {scheme}://{bind}/ (console /console/, health /healthz)")

        def stop(*_: Any) -> None:
            for child in children.values():
                if child.poll() is None:
                    child.terminate()
            for child in children.values():
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
            sys.exit(0)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while True:
            for name, child in list(children.items()):
                if child.poll() is None:
                    continue
                if name == "web":
                    self.stderr.write(f"web exited with {child.returncode}; stopping")
                    stop()
                # A worker or beat that died (Celery's Redis transport can crash one when the
                # broker drops the connection) is restarted, as a production supervisor would.
                self.stderr.write(f"{name} exited with {child.returncode}; restarting it")
                time.sleep(2)
                children[name] = subprocess.Popen(commands[name])  # noqa: S603
            time.sleep(1)
