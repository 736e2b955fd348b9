"""Issue 16 items 5, 6, 8 and 9 in Chromium: guidance on every page, live views that stay true,
operator diagnostics, and the integrator's OpenAPI examples. Screenshots of every page changed."""

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from hermod_core.models import Client, Command
from hermod_core.protocol.commands import parse_command_request
from hermod_core.protocol.results import result_body
from hermod_core.selectors.commands import command_result_view
from hermod_core.services.audit import Actor
from hermod_core.services.clients import client_create
from hermod_core.services.commands import command_create
from portal.services.invitations import (
    IssuedInvitation,
    invitation_create,
)
from tests.e2e.receiver import Receiver
from tests.factories import failed_test_callback, provision_spec
from tests.matchers import PROVISIONED
from tests.seeds import provisioning_command

pytestmark = pytest.mark.services

PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Mobile Safari/537.36"
)
# What an iPad (or a phone set to "desktop site") sends: a desktop user agent on a touch screen.
DESKTOP_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Safari/605.1.15"
)


def _invitation(client: Client) -> IssuedInvitation:
    spec = replace(
        provision_spec(),
        profile_name="Phone",
        servername="hermod-browser",
        lifespan=300,
        timeout=300,
    )
    return invitation_create(actor=Actor(name="ada"), client=client, spec=spec)


def _seconds(text: str) -> int:
    minutes, seconds = re.search(r"expires in (\d+):(\d\d)", text).groups()  # type: ignore[union-attr]
    return int(minutes) * 60 + int(seconds)


# --- item 5: guidance ---------------------------------------------------------------------------


def test_provision_and_bulk_say_create_a_client_first_and_lead_there(
    admin_page, hermod, screenshot
) -> None:
    page = admin_page
    page.goto("/console/provision/")
    expect(page.locator("#no-clients")).to_contain_text("Create a client first")
    screenshot(page, "guidance-provision-no-client")
    page.goto("/console/bulk/")
    expect(page.locator("#no-clients")).to_be_visible()
    expect(page.locator("td.empty")).to_contain_text("Upload a CSV above")
    screenshot(page, "guidance-bulk-no-client")
    page.click("#no-clients a.button")
    page.wait_for_url(re.compile(r".*/console/clients/#client-create$"))
    expect(page.locator("td.empty")).to_contain_text("No clients yet. Create the first below")
    screenshot(page, "guidance-clients-empty")
    for path, text in [
        ("/console/groups/", "create a client first"),
        ("/console/invitations/", "Create an enrollment link"),
        ("/console/commands/", "Issue one from"),
        ("/console/callbacks/", "Deliveries that fail appear here"),
        ("/console/users/", "A user appears when a device is provisioned"),
    ]:
        page.goto(path)
        expect(page.locator("td.empty")).to_contain_text(text)
        screenshot(
            page, "guidance-empty" + path.rstrip("/").replace("/console", "").replace("/", "-")
        )


def test_legends_and_help_explain_codes_and_desktop_options(admin_page, idm, screenshot) -> None:
    page = admin_page
    command_create(client=idm, request=parse_command_request("provision", provisioning_command()))
    page.goto("/console/commands/")
    expect(page.locator("#command-table abbr").first).to_have_attribute(
        "title", re.compile(r"^provisioning: ")
    )
    page.click("#legend summary")
    expect(page.locator("#legend")).to_contain_text("PROV")
    expect(page.locator("#legend")).to_contain_text("provisioning: creates a profile")
    expect(page.locator("#legend")).to_contain_text("no valid answer came before the timeout")
    screenshot(page, "guidance-commands-legend")

    page.goto("/console/provision/")
    expect(page.locator("#no-clients")).to_have_count(0)
    page.click("summary:has-text('Desktop app options')")
    for text in [
        "which virtual smart card (profile) in the desktop app",
        "48 lowercase hex characters",
        "CreateTPM creates the virtual smart card",
        "the user cannot delete the profile locally",
        "CONSENT (a Windows confirmation dialogue)",
    ]:
        expect(page.locator("#provision-form")).to_contain_text(text, ignore_case=True)
    expect(page.locator("#key-help")).to_contain_text("INACTIVE for a key activated later")
    screenshot(page, "guidance-provision-help")


def test_the_qr_page_counts_down_with_expires_in(admin_page, idm, screenshot) -> None:
    page = admin_page
    command = command_create(
        client=idm, request=parse_command_request("provision", provisioning_command())
    )
    page.goto(f"/console/provision/{command.pk}/")
    expiry = page.locator("#code-expiry")
    expect(expiry).to_have_text(re.compile(r"^The code expires in \d+:\d\d$"))
    first = _seconds(expiry.inner_text())
    assert 280 <= first <= 300
    expect(expiry).not_to_have_text(expiry.inner_text(), timeout=3000)
    assert _seconds(expiry.inner_text()) < first  # counting down
    screenshot(page, "guidance-qr-expires-in")


@pytest.fixture
def mobile(browser: Any, hermod: str) -> Iterator[Any]:
    """A new browser context per call: a phone's viewport and touch screen, the given agent."""
    contexts: list[Any] = []

    def open_page(user_agent: str, *, phone: bool = True) -> Any:
        options: dict[str, Any] = {"base_url": hermod, "user_agent": user_agent}
        if phone:
            options.update(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        else:
            options.update(viewport={"width": 1280, "height": 900})
        context = browser.new_context(**options)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.mark.parametrize(
    ("case", "agent", "phone"),
    [
        ("phone-user-agent", PHONE_UA, True),
        ("touch-screen-media-query", DESKTOP_UA, True),
        ("desktop", DESKTOP_UA, False),
    ],
)
def test_the_enrollment_page_on_a_phone_offers_the_app_link_not_a_qr_to_scan(
    idm, mobile, screenshot, case, agent, phone
) -> None:
    issued = _invitation(idm)
    page = mobile(agent, phone=phone)
    page.goto(issued.path)
    expect(page.locator("h1")).to_have_text("Enroll your device")
    link = page.locator("#app-link")
    qr = page.locator("#enroll-qr")
    expect(page.locator("#code-expiry")).to_have_text(re.compile(r"expires in \d+:\d\d$"))
    if phone:
        expect(link).to_be_visible()
        expect(qr).to_be_hidden()
        assert (link.get_attribute("href") or "").startswith("personal://")
        box = link.bounding_box()
        assert box is not None
        assert box["y"] < 400  # above the fold, first thing to tap
    else:
        expect(qr).to_be_visible()
        expect(link).to_be_hidden()
    if case == "phone-user-agent":
        # Enrolling another device from this phone: the QR code is one tap away.
        page.click("#other-device summary")
        expect(qr).to_be_visible()
    screenshot(page, f"guidance-enroll-{case}")


# --- item 6: live views -----------------------------------------------------------------------


def test_the_command_page_follows_the_callback_to_its_end_and_shows_the_answer(
    admin_page, hermod, celery_worker, settings, screenshot, tmp_path: Path
) -> None:
    from hermod_core.emulator.device import Device

    settings.HERMOD_CALLBACK_BACKOFF = False
    receiver = Receiver(fail_next=1).start()
    try:
        client = client_create(
            client_id="idm",
            group_name="smartid",
            callback_url=receiver.url,
            callback_retry_delay=3,
            callback_attempts=3,
            actor=Actor.system("test"),
        ).client
        command = command_create(
            client=client, request=parse_command_request("provision", provisioning_command())
        )
        page = admin_page
        page.goto(f"/console/commands/{command.pk}/")
        expect(page.locator("#show-qr")).to_be_visible()
        expect(page.locator("#command-answer-none")).to_contain_text("No answer yet")
        screenshot(page, "live-command-waiting")

        uri = result_body(command_result_view(Command.objects.get(pk=command.pk)))["destinations"][
            0
        ]["uri"]
        outcome = Device(tmp_path / "phone").enroll(uri)
        assert (outcome.http_status, outcome.body) == (200, PROVISIONED)

        # The command is final at once; the callback fails once, then is delivered 3 s later.
        expect(page.locator("#command-state")).to_have_text("COMPLETED")
        expect(page.locator("#show-qr")).to_have_count(0)
        expect(page.locator("#command-answer")).to_contain_text("JWS header")
        expect(page.locator("#command-answer")).to_contain_text("certificate request")
        expect(page.locator("#callback-state")).to_have_text("PENDING", timeout=10_000)
        screenshot(page, "live-command-callback-pending")
        expect(page.locator("#callback-state")).to_have_text("DELIVERED", timeout=20_000)
        assert len(receiver.received) == 1
        answer = page.locator("#command-answer").inner_text()
        assert "boxtoken" not in answer
        screenshot(page, "live-command-delivered")

        # Settled: the 286 answer stopped the polling.
        polls: list[str] = []
        page.on("request", lambda r: polls.append(r.url) if r.url.endswith("/live") else None)
        page.wait_for_timeout(4500)
        assert polls == []

        profile_id = Command.objects.get(pk=command.pk).profile_id
        page.goto(f"/console/profiles/{profile_id}/")
        expect(page.locator("abbr", has_text="ACTIVE").first).to_have_attribute(
            "title", "the key is active in the app"
        )
        expect(page.locator("#box-token-state")).to_contain_text("held by the device")
        screenshot(page, "guidance-profile")
    finally:
        receiver.stop()


# --- item 8: operator diagnostics ---------------------------------------------------------------


def test_rotation_with_grace_disable_confirmation_and_a_readable_audit(
    admin_page, hermod, idm, screenshot
) -> None:
    from hermod_core.protocol.api_key import build_api_key_header
    from hermod_core.services.clients import client_rotate_key

    old = client_rotate_key(client=idm, actor=Actor.system("test"))  # a key this test knows
    poll = f"{hermod}/hermod/rest/command/poll/1"

    def status(header: str) -> int:
        return requests.get(poll, headers={"X-Api-Key": header}, timeout=5).status_code

    assert status(old.api_key_header) == 404
    page = admin_page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    page.goto("/console/clients/idm/")
    page.fill("#rotate-form input[name=grace_hours]", "2")
    screenshot(page, "diagnostics-client-rotate")
    page.click("#rotate-key")
    expect(page.locator("h1")).to_have_text("New key for idm")
    expect(page.locator(".error")).to_contain_text("The old key keeps working until")
    new_key = page.locator("#client-key").inner_text().strip()
    screenshot(page, "diagnostics-new-key-grace")
    assert status(old.api_key_header) == 404  # still valid, in grace
    assert status(build_api_key_header("idm", new_key)) == 404
    assert dialogs[-1].startswith("Rotate the key of idm?")

    page.goto("/console/clients/idm/")
    expect(page.locator("#old-key-grace")).to_contain_text("old key still valid until")
    page.click("#disable-client")
    expect(page.locator(".messages")).to_contain_text("idm is disabled")
    assert dialogs[-1].startswith("Disable idm?")
    assert status(build_api_key_header("idm", new_key)) == 401
    screenshot(page, "diagnostics-client-disabled")

    page.goto("/console/audit/")
    row = page.locator("tr", has_text="client.rotate_key").first
    expect(row).to_contain_text("grace seconds: 7200")
    expect(row).not_to_contain_text("{")
    screenshot(page, "diagnostics-audit")
    row.locator("a.audit-target").click()
    page.wait_for_url("**/console/clients/idm/")


def test_a_failed_test_callback_is_not_a_failed_callback_on_the_dashboard(
    admin_page, hermod, idm, screenshot
) -> None:
    failed_test_callback(idm)
    page = admin_page
    page.goto("/console/")
    stat = page.locator(".stat", has_text="failed callbacks")
    expect(stat.locator(".value")).to_have_text("0")
    screenshot(page, "diagnostics-dashboard")


# --- item 9: integrator docs ----------------------------------------------------------------------


def test_swagger_ui_shows_authenticate_addressed_to_a_user(page, hermod, screenshot) -> None:
    page.goto("/hermod/swagger-ui/")
    operation = page.locator("[id^='operations-'][id$='authenticate']").first
    expect(operation).to_be_visible(timeout=20_000)
    operation.locator(".opblock-summary").click()
    example = operation.locator(".body-param__example, .highlight-code").first
    expect(example).to_contain_text('"@userA"')
    expect(example).not_to_contain_text("profileid")
    screenshot(page, "docs-swagger-authenticate")
