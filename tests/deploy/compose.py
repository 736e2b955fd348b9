"""docker/compose.yaml run by podman-compose on this machine, driven from outside.

The images come from docker/local-base.sh (Debian-built base, PostgreSQL, Redis, nginx) and
docker/Dockerfile built on that base; docker/compose.host.yaml adapts the production compose
file to a machine whose only network is the loopback. Every container runs with
docker/local/containers.conf (runc, host network, explicit limits) and is removed by
``down()``, volumes included.
"""

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.api_client import Api
from tests.required_services import port_open, service_missing
from tests.seeds import provisioning_command
from tests.stack import client_created

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
CONTAINERS_CONF = DOCKER / "local" / "containers.conf"
IMAGE = os.environ.get("HERMOD_TEST_IMAGE", "localhost/hermod:deploy-test")
BASE_IMAGE = "localhost/hermod-base:bookworm"

# Loopback ports of the stack: none of make run (8000) or the machine's own services.
PG_PORT, REDIS_PORT, WEB_PORTS, TLS_PORT = 55432, 56379, (58001, 58002), 58443
# nginx reaches the web containers from this address only, the one HERMOD_TRUSTED_PROXIES
# lists: the tests themselves (127.0.0.1) are clients like any other, whose X-Forwarded-For is
# not believed.
PROXY_ADDRESS = "127.0.0.2"


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def run(argv: Sequence[str], *, timeout: float = 600, check: bool = True, **kwargs):  # type: ignore[no-untyped-def]
    result = subprocess.run(
        list(argv), env=podman_env(), capture_output=True, text=True, timeout=timeout,
        check=False, **kwargs,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result


def tools_missing() -> str | None:
    for tool in ("podman", "runc", "debootstrap"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} not installed (apt-get install podman runc debootstrap)"
    if shutil.which("podman-compose") is None:
        return "podman-compose not installed (pip install podman-compose)"
    if os.geteuid() != 0:
        return "the container tests run podman as root"
    return None


def build_images() -> dict[str, float]:
    """docker/local-base.sh, then the image from docker/Dockerfile on that base; returns the
    seconds each took."""
    reason = tools_missing()
    if reason:
        service_missing(reason)
    # HERMOD_DEPLOY_FRESH=1 (CI): everything from scratch, no image or layer of an earlier run.
    fresh = os.environ.get("HERMOD_DEPLOY_FRESH") == "1"
    timings = {}
    started = time.monotonic()
    run([str(DOCKER / "local-base.sh"), *(["--force"] if fresh else [])], timeout=900)
    timings["base images"] = time.monotonic() - started
    started = time.monotonic()
    run(
        ["podman", "build", *(["--no-cache"] if fresh else []), "--format", "docker",
         "--network", "host",
         "--build-arg", f"BASE={BASE_IMAGE}",
         "--secret", "id=pip_cert,src=/etc/ssl/certs/ca-certificates.crt",
         "-t", IMAGE, "-f", str(DOCKER / "Dockerfile"), str(ROOT)],
        timeout=900,
    )  # fmt: skip
    timings["hermod image"] = time.monotonic() - started
    return timings


# The release before this one: main before the container work (issue 14). Move it forward at
# each release so that the upgrade test starts from what operators run.
PREVIOUS_RELEASE = "c1f1fe711ffa5f059fa0ac18936f2426a75998f2"
PREVIOUS_IMAGE = "localhost/hermod:previous-release"


def build_previous_image(folder: Path) -> None:
    """The previous release's code (``git archive``) in this release's image recipe: its own
    Dockerfile needs the public base image this machine cannot pull."""
    if run(["git", "-C", str(ROOT), "cat-file", "-e", f"{PREVIOUS_RELEASE}^{{commit}}"],
           check=False).returncode != 0:  # fmt: skip
        service_missing(f"commit {PREVIOUS_RELEASE} (the previous release) not in this clone")
    folder.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", PREVIOUS_RELEASE], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    for name in ("docker/Dockerfile", "docker/entrypoint.sh", ".dockerignore"):
        shutil.copy(ROOT / name, folder / name)
    run(
        ["podman", "build", "--format", "docker", "--network", "host",
         "--build-arg", f"BASE={BASE_IMAGE}",
         "--secret", "id=pip_cert,src=/etc/ssl/certs/ca-certificates.crt",
         "-t", PREVIOUS_IMAGE, "-f", str(folder / "docker" / "Dockerfile"), str(folder)],
        timeout=900,
    )  # fmt: skip


def image_size(image: str = IMAGE) -> int:
    out = run(["podman", "image", "inspect", "--format", "{{.Size}}", image]).stdout
    return int(out.strip())


def self_signed(folder: Path, host: str = "127.0.0.1") -> Path:
    """A certificate and key for nginx in ``folder`` (fullchain.pem, privkey.pem); returns the
    certificate, which clients trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    import ipaddress

    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / "fullchain.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (folder / "privkey.pem").chmod(0o600)
    return folder / "fullchain.pem"


@dataclass
class ComposeStack:
    """One compose project: docker/compose.yaml + compose.host.yaml (+ a scale-out override
    with a second web container behind the TLS proxy and a second worker)."""

    folder: Path
    project: str = "hermod-deploy"
    scaled: bool = False
    tls: bool = False
    env: dict[str, str] = field(default_factory=dict)
    started_in: float = 0.0

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in ("compose.yaml", "compose.host.yaml"):
            shutil.copy(DOCKER / name, self.folder / name)
        (self.folder / "cacerts").mkdir(exist_ok=True)
        tls = self.folder / "tls"
        tls.mkdir(exist_ok=True)
        self.certificate = self_signed(tls)
        # The shipped nginx.conf, with the addresses of this machine: web containers on loopback
        # ports instead of the compose network's `web`, and the proxy's own source address.
        conf = (DOCKER / "tls" / "nginx.conf").read_text()
        servers = "".join(
            f"        server 127.0.0.1:{port} max_fails=3 fail_timeout=5s;\n"
            for port in (WEB_PORTS if self.scaled else WEB_PORTS[:1])
        )
        conf = conf.replace("        server web:8000 max_fails=3 fail_timeout=5s;\n", servers)
        conf = conf.replace("listen 8443 ssl", f"listen 127.0.0.1:{TLS_PORT} ssl")
        conf = conf.replace(
            "location / {", f"location / {{\n            proxy_bind {PROXY_ADDRESS};"
        )
        assert servers in conf, "docker/tls/nginx.conf changed shape"
        assert str(TLS_PORT) in conf, "docker/tls/nginx.conf changed shape"
        (tls / "nginx.conf").write_text(conf)
        public = f"https://127.0.0.1:{TLS_PORT}" if self.tls or self.scaled else self.url_of(0)
        settings = {
            "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
            "HERMOD_KEY_HASH_SECRET": secrets.token_urlsafe(48),
            "HERMOD_METRICS_TOKEN": secrets.token_urlsafe(32),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "HERMOD_PUBLIC_URL": f"{public}/hermod/rest/ms",
            "HERMOD_TLS": "false",
            "HERMOD_TRUSTED_PROXIES": PROXY_ADDRESS,
            "HERMOD_LOG_FORMAT": "json",
            "HERMOD_SWEEP_INTERVAL": "1",
            "HERMOD_CALLBACK_RETRY_DELAY": "1",
            "HERMOD_CALLBACK_TIMEOUT": "3",
            "WEB_CONCURRENCY": "2",
            "CELERY_CONCURRENCY": "4",
            "HERMOD_IMAGE": IMAGE,
            "HERMOD_PG_PORT": str(PG_PORT),
            "HERMOD_REDIS_PORT": str(REDIS_PORT),
            "HERMOD_PORT": str(WEB_PORTS[0]),
        } | self.env
        self.settings = settings
        (self.folder / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        self.files = ["compose.yaml", "compose.host.yaml"]
        if self.scaled:
            self._write_scale_override()
            self.files.append("compose.scale.yaml")

    def _write_scale_override(self) -> None:
        """A second web container (its own port: host networking) and a second worker."""
        environment = {
            "DATABASE_URL": f"postgres://hermod:{self.settings['POSTGRES_PASSWORD']}"
            f"@127.0.0.1:{PG_PORT}/hermod",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
            "HERMOD_CALLBACK_CA_DIR": "/etc/hermod/cacerts",
        }
        common = {
            "image": IMAGE,
            "env_file": ".env",
            "network_mode": "host",
            "volumes": ["./cacerts:/etc/hermod/cacerts:ro"],
            "restart": "unless-stopped",
            "depends_on": {"migrate": {"condition": "service_completed_successfully"}},
        }
        override = {
            "services": {
                "web2": common | {
                    "command": ["web"],
                    "environment": environment | {
                        "HERMOD_LISTEN": "127.0.0.1", "PORT": str(WEB_PORTS[1]),
                    },
                },
                "worker2": common | {"command": ["worker"], "environment": environment},
            }
        }  # fmt: skip
        (self.folder / "compose.scale.yaml").write_text(yaml.safe_dump(override))

    # --- running it ---------------------------------------------------------------------------
    def _argv(self) -> list[str]:
        argv = ["podman-compose", "--in-pod", "false", "-p", self.project]
        for name in self.files:
            argv += ["-f", str(self.folder / name)]
        return argv

    def compose(self, *args: str, timeout: float = 300, check: bool = True):  # type: ignore[no-untyped-def]
        return run([*self._argv(), *args], timeout=timeout, check=check, cwd=self.folder)

    def container(self, service: str, index: int = 1) -> str:
        return f"{self.project}_{service}_{index}"

    def url_of(self, index: int) -> str:
        return f"http://127.0.0.1:{WEB_PORTS[index]}"

    @property
    def url(self) -> str:
        """Where clients and devices go: the TLS proxy when there is one."""
        if self.tls or self.scaled:
            return f"https://127.0.0.1:{TLS_PORT}"
        return self.url_of(0)

    def up(self, restore: Path | None = None) -> "ComposeStack":
        """Starts the stack on new volumes; with ``restore``, the database is restored from that
        ``pg_dump -Fc`` file before migrations run (docs/operations.md "Backup and restore")."""
        self.down()  # leftovers of an interrupted run
        started = time.monotonic()
        profile = ["--profile", "tls"] if self.tls or self.scaled else []
        # In two steps, as compose orders them (database and migrations, then the rest):
        # podman 4.3 can neither wait for health nor start containers created with
        # podman-compose's --requires, hence --no-deps and no pod (docs/operations.md).
        first = ["postgres", "redis"] + ([] if restore else ["migrate"])
        self.compose(*profile, "up", "-d", "--no-build", "--no-deps", *first, timeout=300)
        if restore:
            self.restore(restore)
            self.compose(*profile, "up", "-d", "--no-build", "--no-deps", "migrate", timeout=300)
        self.wait_migrated()
        rest = ["web", "worker", "beat"] + (["tls"] if profile else [])
        rest += ["web2", "worker2"] if self.scaled else []
        self.compose(*profile, "up", "-d", "--no-build", "--no-deps", *rest, timeout=300)
        webs = WEB_PORTS if self.scaled else WEB_PORTS[:1]
        for index in range(len(webs)):
            self.wait_healthy(self.url_of(index))
        if self.tls or self.scaled:
            self.wait_healthy(self.url)
        self.started_in = time.monotonic() - started
        return self

    def set_image(self, image: str) -> None:
        """The image compose uses from now on (``HERMOD_IMAGE`` in the stack's .env)."""
        self.settings["HERMOD_IMAGE"] = image
        (self.folder / ".env").write_text("".join(f"{k}={v}\n" for k, v in self.settings.items()))

    def replace(self, *services: str) -> None:
        """Recreates ``services`` from the current image and settings, as ``up -d`` does after
        an image changed."""
        self.compose("up", "-d", "--no-build", "--no-deps", "--force-recreate", *services)

    def image_of(self, service: str) -> str:
        return run(
            ["podman", "inspect", "--format", "{{.ImageName}}", self.container(service)]
        ).stdout.strip()

    def backup(self, path: Path) -> None:
        """``pg_dump -Fc`` of the running database into ``path``, as docs/operations.md says."""
        with path.open("wb") as out:
            subprocess.run(
                ["podman", "exec", self.container("postgres"), "pg_dump", "-U", "hermod", "-Fc",
                 "hermod"],
                env=podman_env(), stdout=out, check=True, timeout=300,
            )  # fmt: skip

    def restore(self, path: Path) -> None:
        """``pg_restore`` of ``path`` into the (new, empty) database, once PostgreSQL answers.

        Readiness is asked over TCP: while a new volume is initialised, a temporary server
        answers on the Unix socket only and is stopped again, which a restore must not meet."""
        deadline = time.monotonic() + 60
        while run(["podman", "exec", self.container("postgres"), "pg_isready", "-h", "127.0.0.1",
                   "-U", "hermod", "-d", "hermod"], check=False).returncode != 0:  # fmt: skip
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL not ready\n{self.logs('postgres')}")
            time.sleep(0.5)
        with path.open("rb") as dump:
            done = subprocess.run(
                ["podman", "exec", "-i", self.container("postgres"), "pg_restore", "-U", "hermod",
                 "-d", "hermod", "--clean", "--if-exists", "--no-owner", "--exit-on-error"],
                env=podman_env(), stdin=dump, timeout=300, capture_output=True, text=True,
            )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"pg_restore exited {done.returncode}: {done.stderr[-3000:]}")

    def wait_migrated(self, timeout: float = 180) -> None:
        out = run(["podman", "wait", self.container("migrate")], timeout=timeout).stdout.strip()
        if out != "0":
            raise RuntimeError(f"migrate exited {out}: {self.logs('migrate')[-3000:]}")

    def healthy(self, url: str) -> bool:
        try:
            response = requests.get(f"{url}/healthz", timeout=3, verify=str(self.certificate))
            return response.status_code == 200
        except requests.RequestException:
            return False

    def wait_healthy(self, url: str | None = None, timeout: float = 120) -> None:
        url = url or self.url
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.healthy(url):
                return
            time.sleep(0.3)
        raise RuntimeError(f"{url}/healthz not 200 within {timeout} s\n{self.all_logs()}")

    def logs(self, service: str, index: int = 1) -> str:
        result = run(["podman", "logs", self.container(service, index)], check=False)
        return result.stdout + result.stderr

    def all_logs(self) -> str:
        names = run(
            ["podman", "ps", "-a", "--filter", f"label=io.podman.compose.project={self.project}",
             "--format", "{{.Names}} {{.Status}}"],
            check=False,
        ).stdout  # fmt: skip
        tails = []
        for line in names.splitlines():
            name = line.split()[0]
            log = run(["podman", "logs", "--tail", "30", name], check=False)
            tails.append(f"--- {line}\n{(log.stdout + log.stderr)[-2500:]}")
        return "\n".join(tails)

    def manage(self, *args: str) -> str:
        """manage.py in the web container, as an operator runs it (podman exec)."""
        result = run(
            ["podman", "exec", self.container("web"), "hermod-entrypoint", "manage", *args]
        )
        return result.stdout

    def create_client(self, client_id: str, **options: str) -> str:
        return client_created(self.manage, client_id, **options)

    def restart(self, service: str, index: int = 1) -> None:
        run(["podman", "restart", "-t", "10", self.container(service, index)], timeout=120)

    def stop(self, service: str, index: int = 1) -> None:
        run(["podman", "stop", "-t", "10", self.container(service, index)], timeout=120)

    def start(self, service: str, index: int = 1) -> None:
        run(["podman", "start", self.container(service, index)], timeout=120)

    def kill(self, service: str, index: int = 1) -> None:
        """SIGKILL to the container's main process: no chance to ack or requeue."""
        run(["podman", "kill", "-s", "KILL", self.container(service, index)], timeout=60)

    def running(self, service: str, index: int = 1) -> bool:
        out = run(
            ["podman", "inspect", "--format", "{{.State.Running}}", self.container(service, index)],
            check=False,
        ).stdout  # fmt: skip
        return out.strip() == "true"

    def down(self) -> None:
        self.compose("--profile", "tls", "down", "-v", "-t", "10", timeout=300, check=False)


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not port_open("127.0.0.1", port):
        time.sleep(0.2)


def provision(client: Api, device) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Provisions ``device`` through its plug-out URI; returns the command and profile ids."""
    created = client.create("provision", provisioning_command())
    (destination,) = created["destinations"]
    outcome = device.enroll(destination["uri"])
    assert outcome.http_status == 200, outcome.body
    polled = client.poll(created["commandId"])
    assert polled["state"] == "COMPLETED", polled
    return str(created["commandId"]), str(polled["profile"]["id"])


def authenticate(client: Api, device, profile_id: str) -> str:  # type: ignore[no-untyped-def]
    created = client.create("authenticate", {"authCommand": {"profileid": profile_id}})
    (outcome,) = device.run_once()
    assert outcome.body == {"state": "COMPLETED"}, outcome.body
    return str(created["commandId"])
