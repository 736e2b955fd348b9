"""The console in a real browser: Debian's Chromium driven by Playwright against a live server.

One browser per session, a fresh context (cookies, storage) per test. Screenshots of the main
pages go to ``test-artifacts/screenshots/``. Never downloads a browser: without
``/usr/bin/chromium`` the tests skip locally and fail in CI.
"""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_prerun
from django.contrib.auth.models import Group as AuthGroup
from django.contrib.auth.models import User
from django.db import connections

from hermod_core.models import Client
from hermod_core.services.audit import Actor
from hermod_core.services.clients import client_create
from portal.roles import ADMIN_GROUP
from tests.required_services import service_missing

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
ADMIN_PASSWORD = "browser-test-password"


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the whole browser suite (this package)."""
    if not Path(CHROMIUM).exists():
        service_missing("chromium not installed")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop in this thread; Django refuses database calls
    # from a thread with a running loop unless told that the caller is synchronous (it is).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def hermod(live_server: Any, settings: Any, transactional_db: None) -> str:
    """The live server's base URL, with the mailbox public URL pointing at it."""
    settings.HERMOD_PUBLIC_URL = f"{live_server.url}/hermod/rest/ms"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return str(live_server.url)


def _checked_page(browser: Any, base_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    # A Content-Security-Policy violation or a script error is a failure of the page.
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    context.close()
    assert errors == [], errors


@pytest.fixture
def page(browser: Any, hermod: str) -> Iterator[Any]:
    yield from _checked_page(browser, hermod)


@pytest.fixture
def localhost_page(browser: Any, hermod: str) -> Iterator[Any]:
    """A page on http://localhost: WebAuthn needs a secure context whose host is a domain
    (browsers take an IP address as no relying party id; localhost counts as secure)."""
    yield from _checked_page(browser, hermod.replace("127.0.0.1", "localhost"))


@pytest.fixture
def screenshot() -> Any:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def idm(hermod: str) -> Client:
    """The identity manager's client (client A's id and group), without a callback URL."""
    return client_create(client_id="idm", group_name="smartid", actor=Actor.system("test")).client


@pytest.fixture
def admin_page(page: Any, hermod: str) -> Any:
    """The page, signed in through the login form as an admin."""
    user = User.objects.create_user("ada", password=ADMIN_PASSWORD)
    user.groups.add(AuthGroup.objects.get_or_create(name=ADMIN_GROUP)[0])
    page.goto("/console/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/")
    return page


@pytest.fixture
def decode_qr(tmp_path: Path) -> Any:
    """Screenshot an element holding a QR code and decode it with zbarimg (zbar-tools)."""
    zbarimg = shutil.which("zbarimg")

    def decode(element: Any, name: str = "qr") -> str:
        if zbarimg is None:
            service_missing("zbarimg (zbar-tools) not installed")
        path = tmp_path / f"{name}.png"
        element.screenshot(path=str(path))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / f"{name}.png")
        result = subprocess.run(
            [zbarimg, "--raw", "-q", str(path)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"no QR code found: {result.stderr}"
        return result.stdout.strip()

    return decode


@pytest.fixture
def celery_worker(live_server: Any) -> Iterator[Any]:
    """A real Celery worker (solo pool, in this process) on an in-memory broker.

    The view enqueues exactly as in production (``enqueue_after_commit`` → ``send_task``); this
    worker consumes the message and runs the task. The broker is ``memory://`` so that no other
    worker (a developer's ``make run``) can take the task and nothing is left in a shared queue.
    On an in-memory SQLite test database the task runs on the live server's shared connection,
    as the server's own request threads do; on PostgreSQL it opens its own.
    """
    import portal.tasks  # noqa: F401 - registers the task with the app
    from celery_app import app

    saved = {key: app.conf[key] for key in ("broker_url", "broker_transport_options")}
    app.conf.update(broker_url="memory://", broker_transport_options={})
    _forget_connections(app)
    shared = dict(live_server.thread.connections_override)

    def use_shared_connection(**kwargs: Any) -> None:
        for alias, connection in shared.items():
            connections[alias] = connection

    task_prerun.connect(use_shared_connection, weak=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as w:
            yield w
    finally:
        task_prerun.disconnect(use_shared_connection)
        app.conf.update(saved)
        _forget_connections(app)


def _forget_connections(app: Any) -> None:
    # The app caches its connection and producer pools for the broker it first used; drop them
    # so the next publish connects to the broker now configured (what Celery does after fork).
    app._pool = None
    app.amqp._producer_pool = None
