"""Hermod serving TLS itself, with a private CA (README "Configuration"): the real product's
PKCS#12 key store on the production-shaped stack (gunicorn with the image's configuration,
workers, PostgreSQL, Redis, the reference device), and PEM files through ``manage.py serve``
(``make run``)."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from hermod_core.emulator.device import Device
from tests.api_client import Api
from tests.e2e.receiver import Receiver
from tests.matchers import PROVISIONED
from tests.required_services import free_port, port_open
from tests.seeds import provisioning_command
from tests.stack import ROOT, Hermod, hermod_stack
from tests.tls_ca import TlsFiles, make_tls_files

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_stack(tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles) -> Iterator[Hermod]:
    env = {"HERMOD_TLS_P12_FILE": str(tls.p12), "HERMOD_TLS_P12_PASSWORD": tls.p12_password}
    with hermod_stack(
        tmp_path_factory.mktemp("tls-stack"), workers=1, env=env, scheme="https",
        verify=str(tls.ca_pem), web_args=["--config", "python:hermod_core.gunicorn_conf"],
    ) as (hermod, _pg, _redis):  # fmt: skip
        yield hermod


def test_the_p12_key_store_serves_https_to_clients_and_the_device_trusting_the_private_ca(
    tls_stack: Hermod, tls: TlsFiles, tmp_path: Path
) -> None:
    assert tls_stack.url.startswith("https://")
    receiver = Receiver().start()
    try:
        key = tls_stack.create_client("tls-idm", group="tls", callback_url=receiver.url)
        api = Api(tls_stack.url, key)
        api.session.verify = str(tls.ca_pem)
        api.session.trust_env = False  # else REQUESTS_CA_BUNDLE would replace the bundle
        created = api.create("provision", provisioning_command())
        destination = created["destinations"][0]
        assert destination["location"].startswith(f"{tls_stack.url}/hermod/rest/ms/")
        assert destination["appLink"].startswith("personal://127.0.0.1:")
        session = requests.Session()
        session.verify = str(tls.ca_pem)
        device = Device(tmp_path / "phone", session=session)
        # The same-device link: the app puts https:// back in front of it.
        assert device.enroll(destination["appLink"]).body == PROVISIONED
        (callback,) = receiver.wait_for(1)
        assert callback.body["state"] == "COMPLETED"
        assert callback.body["fqdn"] == "127.0.0.1"
    finally:
        receiver.stop()


def test_a_client_without_the_private_ca_or_speaking_plain_http_gets_nothing(
    tls_stack: Hermod,
) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{tls_stack.url}/healthz", timeout=5)
    plain = tls_stack.url.replace("https://", "http://")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{plain}/healthz", timeout=5)


def test_make_run_serves_https_with_pem_files_and_the_health_check_follows(
    tls: TlsFiles, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HERMOD_", "DATABASE_"))}
    env.pop("CELERY_BROKER_URL", None)
    env |= {
        "HERMOD_VAR_DIR": str(tmp_path / "var"),
        "PORT": str(port),
        "HERMOD_TLS_CERT_FILE": str(tls.cert_pem),
        "HERMOD_TLS_KEY_FILE": str(tls.key_pem),
        "DJANGO_SECRET_KEY": "serve-tls-test-secret-key-not-for-production-0123456789",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
        capture_output=True, timeout=300,
    )  # fmt: skip
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--workers", "1"], cwd=ROOT, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 60
        while not port_open("127.0.0.1", port) and time.time() < deadline:
            time.sleep(0.2)
        health = requests.get(f"https://127.0.0.1:{port}/healthz", verify=tls.ca_pem, timeout=10)
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        check = subprocess.run(
            [sys.executable, "-m", "hermod_core.healthcheck", str(port)], cwd=ROOT, env=env,
            check=False, timeout=30,
        )  # fmt: skip
        assert check.returncode == 0
        assert b"Hermod on https://127.0.0.1:" in (tmp_path / "serve.log").read_bytes()
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()
