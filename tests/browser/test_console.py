"""The console and the enrollment portal in Chromium, with the reference device as the phone."""

import base64
import csv
import io
import re
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from hermod_core.emulator.device import Device, parse_target
from hermod_core.models import Command, Group, Profile
from portal.models import BulkJob
from tests.matchers import PROVISIONED

pytestmark = pytest.mark.services


def _fill_provisioning(page, *, userid: str, congrats: str = "") -> None:
    page.goto("/console/provision/")
    page.select_option("select[name=client]", label="idm (group smartid)")
    page.fill("input[name=userid]", userid)
    page.fill("input[name=profile_name]", "Work phone")
    page.fill("input[name=servername]", "hermod-browser")
    page.fill("input[name=subject_O]", "Acme")
    if congrats:
        page.click("summary:has-text('Desktop app options')")
        page.fill("textarea[name=congratsmessage]", congrats)


def test_an_admin_creates_a_client_and_reads_its_key(admin_page, hermod, screenshot) -> None:
    Group.objects.create(name="smartid")  # chosen from the list (tests/browser/test_console_flows)
    page = admin_page
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator("svg.chart")).to_have_count(2)
    screenshot(page, "dashboard")
    page.click("nav >> text=Clients")
    page.fill("#client-create input[name=client_id]", "gateway")
    page.select_option("#client-create select[name=group]", label="smartid")
    page.fill("#client-create input[name=callback_url]", "https://gw.example.com/hermod")
    page.click("#client-create button[type=submit]")
    expect(page.locator("h1")).to_have_text("Client gateway created")
    key = page.locator("#client-key").inner_text().strip()
    header = page.locator("#api-key-header").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert base64.b64decode(header).decode() == f"gateway:{key}"
    page.click("[data-copy=api-key-header]")
    expect(page.locator("[data-copy=api-key-header]")).to_have_text("Copied")
    screenshot(page, "client-key")
    # The key works against the API; a wrong one does not.
    poll = f"{hermod}/hermod/rest/command/poll/1"
    assert requests.get(poll, headers={"X-Api-Key": header}, timeout=5).status_code == 404
    wrong = base64.b64encode(b"gateway:" + b"0" * 64).decode()
    assert requests.get(poll, headers={"X-Api-Key": wrong}, timeout=5).status_code == 401
    page.goto("/console/clients/")
    expect(page.locator("table")).to_contain_text("gateway")
    screenshot(page, "clients")


def test_provisioning_through_the_form_enrolls_the_device(
    admin_page, idm, decode_qr, screenshot, tmp_path: Path
) -> None:
    page = admin_page
    _fill_provisioning(page, userid="alice@example.com")
    screenshot(page, "provision-form")
    page.click("button[value=issue]")
    page.wait_for_url(re.compile(r".*/console/provision/\d+/$"))
    qr = page.locator("#enroll-qr")
    expect(qr).to_be_visible()
    # Issue 16: "expires in 4:58" (it read "expires in 4:58 left").
    expect(page.locator("#code-expiry")).to_have_text(re.compile(r"^The code expires in \d+:\d\d$"))
    screenshot(page, "provision-qr")
    uri = decode_qr(qr, "provision-qr-code")
    assert uri.startswith("com.nexusgroup.plugout:///?url=")
    assert page.locator("#plugout-link").get_attribute("href") == uri

    outcome = Device(tmp_path / "phone").enroll(uri)
    assert (outcome.http_status, outcome.body) == (200, PROVISIONED)

    # The page follows by itself (htmx polling), without a reload.
    expect(page.locator("#enroll-phase")).to_have_attribute("data-phase", "COMPLETED")
    expect(page.locator("#enroll-qr")).to_have_count(0)
    screenshot(page, "provision-completed")
    # The final status answered 286: htmx stops polling.
    polls: list[str] = []
    page.on(
        "request", lambda request: polls.append(request.url) if "/status" in request.url else None
    )
    page.wait_for_timeout(2500)
    assert polls == []
    page.click("#profile-link")
    profile = Profile.objects.get()
    expect(page.locator("#profile-id")).to_have_text(str(profile.pk))
    expect(page.locator("body")).to_contain_text("signer")
    screenshot(page, "profile")
    command = Command.objects.get()
    page.goto(f"/console/commands/{command.pk}/")
    expect(page.locator("#command-state")).to_have_text("COMPLETED")
    expect(page.locator(".timeline")).to_contain_text("Answered in box @tmp")
    screenshot(page, "command-detail")
    page.goto("/console/commands/")
    screenshot(page, "commands")
    page.goto("/console/")
    expect(page.locator("svg.chart rect.series-COMPLETED")).to_have_count(2)
    screenshot(page, "dashboard-with-data")


def test_an_enrollment_invitation_takes_the_user_to_a_completed_device(
    admin_page, browser, hermod, idm, decode_qr, screenshot, tmp_path: Path
) -> None:
    page = admin_page
    _fill_provisioning(page, userid="dave@example.com", congrats="Welcome to Acme, Dave!")
    page.click("button[value=invite]")
    link = page.locator("#invitation-link").inner_text().strip()
    assert link.startswith(f"{hermod}/enroll/")
    screenshot(page, "invitation-created")

    # The end user: another browser context, no console session.
    user_context = browser.new_context(viewport={"width": 800, "height": 900})
    try:
        user = user_context.new_page()
        errors: list[str] = []
        user.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        user.goto(link)
        expect(user.locator("h1")).to_have_text("Enroll your device")
        screenshot(user, "enroll-page")
        uri = decode_qr(user.locator("#enroll-qr"), "enroll-qr-code")
        assert user.locator("#plugout-link").get_attribute("href") == uri

        device = Device(tmp_path / "phone")
        target = parse_target(uri)
        location = device.http.list_box(target.box_url, target.token)[0]["location"]
        message = device.fetch(location, target.token)
        # Fetched: the QR code goes away while the app works.
        expect(user.locator("#enroll-qr")).to_have_count(0)
        expect(user.locator("#enroll-phase")).to_have_attribute("data-phase", "FETCHED")
        outcome = device.answer(location, target.token, message)
        assert (outcome.http_status, outcome.body) == (200, PROVISIONED)
        expect(user.locator("#enroll-phase")).to_have_text("Welcome to Acme, Dave!")
        screenshot(user, "enroll-completed")
        assert errors == [], errors  # no script error, no CSP violation

        # One time only.
        user.goto(link)
        expect(user.locator("h1")).to_have_text("This link can no longer be used")
        user.goto(f"{hermod}/enroll/{'x' * 32}")
        expect(user.locator("h1")).to_have_text("This link is not valid")
    finally:
        user_context.close()
    assert Profile.objects.get().user.userid == "dave@example.com"


def test_a_bulk_upload_runs_on_a_worker_while_the_progress_bar_fills(
    admin_page, idm, celery_worker, screenshot, tmp_path: Path
) -> None:
    page = admin_page
    users = [f"user{n:02d}@example.com" for n in range(12)]
    csv_path = tmp_path / "users.csv"
    csv_path.write_text("userid,CN\n" + "".join(f"{u},{u.split('@')[0]}\n" for u in users))
    page.goto("/console/bulk/")
    page.select_option("select[name=client]", label="idm (group smartid)")
    page.set_input_files("input[name=file]", str(csv_path))
    page.fill("input[name=profile_name]", "Bulk phone")
    page.fill("input[name=servername]", "hermod-browser")
    screenshot(page, "bulk-form")
    page.click("#bulk-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/bulk/\d+/$"))
    expect(page.locator("#bulk-bar")).to_be_visible()
    expect(page.locator("#bulk-state")).to_have_text("DONE", timeout=60_000)
    expect(page.locator("#bulk-bar")).to_have_attribute("value", str(len(users)))
    screenshot(page, "bulk-done")
    with page.expect_download() as download_info:
        page.click("#bulk-download")
    result = Path(download_info.value.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(result)))
    assert [r["userid"] for r in rows] == users
    assert all(r["invitation_link"].startswith("http") and not r["error"] for r in rows)
    assert BulkJob.objects.get().succeeded == len(users)
    assert Command.objects.filter(command_type="PROV").count() == len(users)
