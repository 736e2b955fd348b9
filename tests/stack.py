"""A production-shaped Hermod on this machine, for end-to-end, fault and benchmark runs.

Every piece is a real process started here and stopped by its pid: a throwaway PostgreSQL
cluster (initdb + pg_ctl in a temporary folder), a throwaway Redis (or RabbitMQ node as the
broker), gunicorn serving the app, Celery workers and beat. Nothing touches the machine's shared
PostgreSQL, Redis or RabbitMQ.
"""

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.required_services import free_port, port_open, service_missing

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {timeout} s")


def client_created(manage: Callable[..., str], client_id: str, **options: str) -> str:
    """``manage.py hermod_client create`` run by ``manage`` (with ``options`` as its options:
    ``callback_url=...``); returns the new client's X-Api-Key header value."""
    args = ["hermod_client", "create", client_id]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", value]
    out = manage(*args)
    match = re.search(r"^X-Api-Key: (\S+)$", out, re.M)
    assert match, out
    return match.group(1)


def _as_postgres() -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class Postgres:
    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.url_of("hermod")

    def url_of(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def _client_args(self) -> list[str]:
        """How the client programs (createdb, pg_dump, pg_restore) reach this server."""
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]

    def init(self) -> "Postgres":
        bin_dir = _postgres_bin()
        if bin_dir is None or (shutil.which("runuser") is None and os.geteuid() == 0):
            service_missing("PostgreSQL server binaries (initdb) not installed")
        assert bin_dir is not None
        self.bin = bin_dir
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        subprocess.run(
            [*_as_postgres(), str(bin_dir / "initdb"), "-D", str(self.folder / "data"), "-U",
             "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"],
            check=True, capture_output=True,
        )  # fmt: skip
        return self

    def start(self) -> "Postgres":
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self.process = subprocess.Popen(
            [*_as_postgres(), str(self.bin / "postgres"), "-D", str(self.folder / "data"),
             *options.split()],
            stdout=subprocess.DEVNULL, stderr=open(self.folder / "postgres.log", "ab"),  # noqa: SIM115
        )  # fmt: skip
        _wait(lambda: port_open("127.0.0.1", self.port), 30, "PostgreSQL")
        return self

    def create_database(self, name: str = "hermod") -> None:
        for _ in range(50):
            result = subprocess.run(
                [str(self.bin / "createdb"), *self._client_args, name],
                capture_output=True, check=False,
            )  # fmt: skip
            if result.returncode == 0 or b"already exists" in result.stderr:
                return
            time.sleep(0.2)
        raise RuntimeError(result.stderr.decode())

    def copy_database(self, target: str, source: str = "hermod") -> None:
        """A new database ``target`` holding what ``source`` holds now (``pg_dump`` into
        ``pg_restore``: unlike ``CREATE DATABASE … TEMPLATE``, it works while ``source`` is in
        use)."""
        self.create_database(target)
        dump = subprocess.Popen(
            [str(self.bin / "pg_dump"), *self._client_args, "-Fc", source],
            stdout=subprocess.PIPE,
        )
        restore = subprocess.run(
            [str(self.bin / "pg_restore"), *self._client_args, "-d", target],
            stdin=dump.stdout, capture_output=True, check=False,
        )  # fmt: skip
        # Our end of the pipe closed too: a pg_dump that pg_restore left early then ends
        # (broken pipe) instead of waiting forever to write.
        assert dump.stdout is not None
        dump.stdout.close()
        if dump.wait() != 0 or restore.returncode != 0:
            raise RuntimeError(f"copying {source} to {target}: {restore.stderr.decode()[-500:]}")

    def stop(self) -> None:
        """Fast shutdown of this cluster only (its own data folder), then reap the process."""
        if self.process is None:
            return
        subprocess.run(
            [*_as_postgres(), str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "stop",
             "-m", "fast", "-w", "-t", "30"],
            capture_output=True, check=False,
        )  # fmt: skip
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@dataclass
class Redis:
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "Redis":
        binary = shutil.which("redis-server")
        if binary is None:
            service_missing("redis-server not installed")
        self.process = subprocess.Popen(
            [str(binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait(lambda: port_open("127.0.0.1", self.port), 15, "Redis")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


@dataclass
class RabbitMQ:
    """A throwaway RabbitMQ node of the machine's rabbitmq-server (its own node name, ports and
    data folder): the tests can stop and restart it without touching the shared one on 5672.
    Its data survive a restart, as a real broker's durable queues do."""

    folder: Path
    port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> "RabbitMQ":
        if not Path(RABBITMQ_SERVER).exists():
            service_missing("rabbitmq-server not installed")
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "enabled_plugins").write_text("[].\n")
        env = {
            **os.environ,
            "HOME": str(self.folder),
            "RABBITMQ_NODENAME": f"hermod{self.port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.folder / "none"),
            "RABBITMQ_PID_FILE": str(self.folder / "pid"),
        }
        # Its own session: stop() ends the script and the Erlang VM it starts, nothing else.
        self.process = subprocess.Popen(
            [RABBITMQ_SERVER], env=env, cwd=self.folder, start_new_session=True,
            stdout=open(self.folder / "rabbitmq.log", "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
        )  # fmt: skip
        _wait(lambda: port_open("127.0.0.1", self.port), 60, "RabbitMQ")
        return self

    def stop(self) -> None:
        """Kill -9 of the node (its process group): unacknowledged deliveries go back to their
        queue when it starts again, unconfirmed publishes are lost."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
        _wait(lambda: not port_open("127.0.0.1", self.port), 15, "RabbitMQ stop")


@dataclass
class Hermod:
    """The app, configured only through the environment, as in production."""

    folder: Path
    database_url: str
    broker_url: str
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    scheme: str = "http"  # https: gunicorn serves TLS itself (HERMOD_TLS_* in extra_env)
    verify: str | bool = True  # the CA bundle that trusts the server's certificate
    web: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    beat: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    _argv: dict[int, tuple[str, list[str]]] = field(default_factory=dict)
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HERMOD_", "DATABASE_"))}
        env.pop("CELERY_BROKER_URL", None)
        env |= {
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": self.broker_url,
            "HERMOD_VAR_DIR": str(self.folder),
            "HERMOD_PUBLIC_URL": f"{self.url}/hermod/rest/ms",
            "DJANGO_SECRET_KEY": "stack-test-secret-key-not-for-production-0123456789",
            "HERMOD_SWEEP_INTERVAL": "1",
            "HERMOD_CALLBACK_RETRY_DELAY": "1",
            "HERMOD_CALLBACK_TIMEOUT": "3",
            "PYTHONUNBUFFERED": "1",
        }
        return env | self.extra_env

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
            text=True, check=False, timeout=300,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)}: {result.stderr}")
        return result.stdout

    def create_client(self, client_id: str, **options: str) -> str:
        """Creates a client; returns its X-Api-Key header value."""
        return client_created(self.manage, client_id, **options)

    def _log(self, name: str):  # type: ignore[no-untyped-def]
        return open(self.folder / f"{name}.log", "ab")

    def start_web(self, workers: int = 2, extra_args: Sequence[str] = ()) -> None:
        """gunicorn with ``workers`` processes; ``extra_args`` are more gunicorn options
        (``--worker-class gthread --threads 4`` …)."""
        self.web = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "hermod_core.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--timeout", "60", *extra_args],
            cwd=ROOT, env=self.env, stdout=self._log("web"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        _wait(lambda: port_open("127.0.0.1", self.port), 60, "gunicorn")

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=self._log(name), stderr=subprocess.STDOUT
        )
        self._argv[process.pid] = (name, argv)
        return process

    def start_worker(self, name: str, concurrency: int = 2) -> subprocess.Popen[bytes]:
        worker = self._spawn(
            name,
            [PYTHON, "-m", "celery", "-A", "celery_app", "worker", "-n", f"{name}@%h",
             "--concurrency", str(concurrency), "--loglevel", "INFO", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
        )  # fmt: skip
        self.workers.append(worker)
        return worker

    def start_beat(self) -> None:
        self.beat = self._spawn(
            "beat",
            [PYTHON, "-m", "celery", "-A", "celery_app", "beat", "--loglevel", "INFO",
             "--schedule", str(self.folder / "beat-schedule")],
        )  # fmt: skip

    def stop_beat(self) -> None:
        """Stop beat for good (the supervisor does not restart it): a benchmark times the sweep
        itself without the periodic one racing it."""
        beat, self.beat = self.beat, None
        if beat is not None and beat.poll() is None:
            beat.terminate()
            try:
                beat.wait(timeout=15)
            except subprocess.TimeoutExpired:
                beat.kill()
                beat.wait()

    def supervise(self) -> None:
        """Restart workers and beat that exit, as the production supervisor does (compose's
        ``restart: unless-stopped``): Celery's Redis transport can crash a worker when the broker
        drops the connection while a message is unacknowledged."""

        def loop() -> None:
            while not self._stopping.wait(0.5):
                for index, worker in enumerate(list(self.workers)):
                    if worker.poll() is not None:
                        name, argv = self._argv[worker.pid]
                        self.workers[index] = self._spawn(name, argv)
                        self.restarts += 1
                if self.beat is not None and self.beat.poll() is not None:
                    name, argv = self._argv[self.beat.pid]
                    self.beat = self._spawn(name, argv)
                    self.restarts += 1

        threading.Thread(target=loop, daemon=True).start()

    def healthy(self) -> bool:
        try:
            return (
                requests.get(f"{self.url}/healthz", timeout=2, verify=self.verify).status_code
                == 200
            )
        except requests.RequestException:
            return False

    def stop(self) -> None:
        self._stopping.set()
        for process in [self.web, self.beat, *self.workers]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [self.web, self.beat, *self.workers]:
            if process is not None:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@contextmanager
def hermod_stack(
    folder: Path,
    *,
    workers: int = 1,
    beat: bool = True,
    env: dict[str, str] | None = None,
    web_workers: int = 2,
    web_args: Sequence[str] = (),
    worker_concurrency: int = 2,
    scheme: str = "http",
    verify: str | bool = True,
    broker: str = "redis",
) -> Iterator[tuple[Hermod, Postgres, Any]]:
    """PostgreSQL + Redis + migrated Hermod with gunicorn (``web_workers`` processes, more
    gunicorn options in ``web_args``), ``workers`` Celery workers of ``worker_concurrency``
    processes each, and beat. The third value is the broker's server: the Redis, or with
    ``broker="rabbitmq"`` a RabbitMQ node (Redis then holds only the rate-limit counters)."""
    # Outside pytest's private tmp folder: the postgres user must be able to reach it.
    pg_folder = Path(tempfile.mkdtemp(prefix="hermod-pg-"))
    pg_folder.chmod(0o755)
    postgres = Postgres(pg_folder / "cluster").init().start()
    redis = Redis().start()
    server: Any = redis
    settings = dict(env or {})
    if broker == "rabbitmq":
        try:
            server = RabbitMQ(folder / "rabbitmq").start()
        except BaseException:
            redis.stop()
            postgres.stop()
            raise
        settings.setdefault("HERMOD_RATE_LIMIT_REDIS_URL", redis.url)
    hermod = Hermod(
        folder / "hermod", postgres.url, server.url, extra_env=settings, scheme=scheme,
        verify=verify,
    )  # fmt: skip
    hermod.folder.mkdir(parents=True, exist_ok=True)
    try:
        postgres.create_database()
        hermod.manage("migrate", "--noinput")
        hermod.start_web(web_workers, web_args)
        for index in range(workers):
            hermod.start_worker(f"worker{index}", worker_concurrency)
        if beat:
            hermod.start_beat()
        hermod.supervise()
        _wait(hermod.healthy, 30, "Hermod /healthz")
        yield hermod, postgres, server
    finally:
        hermod.stop()
        if server is not redis:
            server.stop()
        redis.stop()
        postgres.stop()
        shutil.rmtree(pg_folder, ignore_errors=True)
