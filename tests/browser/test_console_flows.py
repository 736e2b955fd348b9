"""Issue 16 items 2, 3, 4 and 7 in Chromium: no silent duplicates, invitations with their own
lifetime (revoke, re-send, renew), groups and clients managed rather than typed, and errors
written for people. Screenshots of every page changed go to test-artifacts/screenshots/."""

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from hermod_core.lifecycle import State
from hermod_core.models import AuditEvent, CallbackDelivery, Client, Command, DeliveryState, Group
from hermod_core.services.commands import command_transition
from portal.models import BulkJob, EnrollmentInvitation

pytestmark = pytest.mark.services


def _fill_provisioning(page, *, userid: str) -> None:
    page.goto("/console/provision/")
    page.select_option("select[name=client]", label="idm (group smartid)")
    page.fill("input[name=userid]", userid)
    page.fill("input[name=profile_name]", "Work phone")
    page.fill("input[name=servername]", "hermod-browser")
    page.fill("input[name=subject_O]", "Acme")


def test_groups_are_created_chosen_renamed_and_deleted_and_a_client_is_deleted(
    admin_page, screenshot
) -> None:
    page = admin_page
    page.goto("/console/groups/")
    # What a valid name is, said beside the field (a refused one: tests/portal).
    expect(page.locator("#group-create")).to_contain_text("letters, digits, dots, dashes")
    page.fill("#group-create input[name=name]", "finance")
    page.click("#group-create button[type=submit]")
    expect(page.locator("h1")).to_have_text("Group finance")
    page.goto("/console/groups/")
    screenshot(page, "flows-groups")

    # A client chooses its group from a list: no text field that a typo could turn into a tenant.
    page.goto("/console/clients/")
    expect(page.locator("#client-create input[name=group]")).to_have_count(0)
    options = page.locator("#client-create select[name=group] option").all_inner_texts()
    assert [o for o in options if o.strip() and not o.startswith("-")] == ["finance"]
    page.fill("#client-create input[name=client_id]", "payroll")
    page.select_option("#client-create select[name=group]", label="finance")
    page.click("#client-create button[type=submit]")
    expect(page.locator("h1")).to_have_text("Client payroll created")
    # The key page after a reload: the key is gone, nothing was created twice.
    page.reload()
    expect(page.locator("#key-gone")).to_be_visible()
    assert Client.objects.filter(client_id="payroll").count() == 1
    assert set(Group.objects.values_list("name", flat=True)) == {"finance"}

    # Rename; deleting a group that holds a client is refused with the reason.
    page.goto("/console/groups/finance/")
    page.fill("#group-rename input[name=rename-name]", "finance-eu")
    page.click("#group-rename button[type=submit]")
    expect(page.locator("h1")).to_have_text("Group finance-eu")
    expect(page.locator("#group-delete-blocked")).to_contain_text("holds 1 client.")
    screenshot(page, "flows-group-detail")

    # Delete the client (the confirmation is accepted): it leaves the list, the audit says who.
    page.goto("/console/clients/payroll/")
    page.click("#delete-client")
    expect(page.locator("main")).to_contain_text("its commands and their history stay")
    expect(page.locator("table")).not_to_contain_text("payroll")
    screenshot(page, "flows-client-deleted")
    page.goto("/console/clients/payroll/")
    expect(page.locator("#client-deleted")).to_be_visible()
    assert AuditEvent.objects.get(action="client.delete").actor == "ada"

    # An empty group is deleted.
    Group.objects.create(name="spare")
    page.goto("/console/groups/spare/")
    page.click("text=Delete this empty group")
    expect(page.locator("main")).to_contain_text("Group spare deleted")
    assert not Group.objects.filter(name="spare").exists()


def test_an_invitation_is_made_once_warned_about_revoked_and_resent(
    admin_page, browser, hermod, idm, screenshot
) -> None:
    page = admin_page
    _fill_provisioning(page, userid="erin@example.com")
    page.fill("input[name=invitation_hours]", "48")
    page.click("button[value=invite]")
    first_link = page.locator("#invitation-link").inner_text().strip()
    expect(page.locator("#invitation-state")).to_contain_text("Open")
    screenshot(page, "flows-invitation-created")
    # A reload creates nothing and shows the link no more.
    page.reload()
    expect(page.locator("#invitation-link")).to_have_count(0)
    assert EnrollmentInvitation.objects.count() == 1
    assert EnrollmentInvitation.objects.get().lifetime == timedelta(hours=48)

    # A second invitation for the same user warns and offers to revoke the open one.
    _fill_provisioning(page, userid="erin@example.com")
    page.click("button[value=invite]")
    expect(page.locator("#open-invitations")).to_contain_text(
        "erin@example.com already has an open enrollment invitation"
    )
    screenshot(page, "flows-invitation-open-warning")
    assert EnrollmentInvitation.objects.count() == 1
    page.click("#revoke-and-invite")
    second_link = page.locator("#invitation-link").inner_text().strip()
    assert second_link != first_link
    assert EnrollmentInvitation.objects.filter(revoked_at__isnull=False).count() == 1

    # Re-send and revoke from the Invitations page.
    page.goto("/console/invitations/")
    screenshot(page, "flows-invitations")
    row = page.locator("#invitation-table tr", has=page.locator('[data-invitation="open"]'))
    row.locator("[data-action=resend]").click()
    third_link = page.locator("#invitation-link").inner_text().strip()
    assert third_link not in {first_link, second_link}
    screenshot(page, "flows-invitation-resent")
    page.click("[data-action=revoke]")
    expect(page.locator("[data-invitation=revoked]")).to_be_visible()

    # The end user's view of each link.
    user_context = browser.new_context()
    try:
        user = user_context.new_page()
        user.goto(second_link)  # replaced by the re-send
        expect(user.locator("h1")).to_have_text("This link is not valid")
        user.goto(third_link)  # revoked
        expect(user.locator("#enroll-phase")).to_have_attribute("data-phase", "REVOKED")
        screenshot(user, "flows-enroll-revoked")
    finally:
        user_context.close()


def test_a_link_outlives_its_qr_code_and_the_user_asks_for_a_new_one(
    admin_page, browser, idm, decode_qr, screenshot
) -> None:
    page = admin_page
    _fill_provisioning(page, userid="finn@example.com")
    page.click("button[value=invite]")
    link = page.locator("#invitation-link").inner_text().strip()
    first = EnrollmentInvitation.objects.get().command_id
    # The QR code's request ended unused (its lifespan and timeout passed); the link lives on.
    Command.objects.filter(pk=first).update(expires_at=timezone.now() - timedelta(seconds=1))
    user_context = browser.new_context(viewport={"width": 800, "height": 900})
    try:
        user = user_context.new_page()
        user.goto(link)
        expect(user.locator("#enroll-phase")).to_have_attribute("data-phase", "RENEWABLE")
        screenshot(user, "flows-enroll-renewable")
        user.click("#enroll-renew")
        expect(user.locator("#enroll-qr svg")).to_be_visible()
        uri = decode_qr(user.locator("#enroll-qr"), "flows-enroll-renewed-qr")
        second = EnrollmentInvitation.objects.get().command_id
        assert second != first
        assert uri.startswith("com.nexusgroup.plugout:///")
        assert Command.objects.get(pk=first).state == State.EXPIRED
    finally:
        user_context.close()


def test_an_expired_request_says_so_and_is_issued_again_from_a_filled_in_form(
    admin_page, idm, screenshot
) -> None:
    page = admin_page
    _fill_provisioning(page, userid="gus@example.com")
    page.click("button[value=issue]")
    page.wait_for_url(re.compile(r".*/console/provision/\d+/$"))
    command = Command.objects.get()
    command_transition(
        command_id=command.pk,
        to=State.EXPIRED,
        failure_code="EXPIRED",
        failure_reason="No valid answer before the command's timeout.",
    )
    page.goto(f"/console/commands/{command.pk}/")
    expect(page.locator("#command-expired")).to_contain_text("This request expired")
    screenshot(page, "flows-command-expired")
    page.click("#reissue")
    expect(page.locator("input[name=userid]")).to_have_value("gus@example.com")
    expect(page.locator("input[name=profile_name]")).to_have_value("Work phone")
    expect(page.locator("input[name=subject_O]")).to_have_value("Acme")
    screenshot(page, "flows-reissue-prefilled")
    page.click("button[value=issue]")
    page.wait_for_url(re.compile(r".*/console/provision/\d+/$"))
    assert Command.objects.count() == 2

    # Callback failures in words, the raw detail folded (the delivery of a command: a console
    # test callback is not a failing callback).
    CallbackDelivery.objects.filter(command=Command.objects.latest("pk")).update(
        state=DeliveryState.EXHAUSTED,
        body={"test": True},
        attempts=5,
        max_attempts=5,
        last_error="ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9): Max retries "
        "exceeded (Caused by NewConnectionError('Failed to establish a new connection: "
        "[Errno 111] Connection refused'))",
    )
    page.goto("/console/callbacks/")
    summary = page.locator("summary[data-callback-problem]")
    expect(summary).to_have_text("connection refused after 5 attempts")
    expect(page.locator("details.callback-problem pre")).not_to_be_visible()
    summary.click()
    expect(page.locator("details.callback-problem pre")).to_contain_text("Errno 111")
    screenshot(page, "flows-callback-problem")


def test_a_semicolon_upload_runs_and_its_result_downloads_once_with_emails(
    admin_page, idm, celery_worker, screenshot, tmp_path: Path
) -> None:
    page = admin_page
    csv_path = tmp_path / "users.csv"
    csv_path.write_text("userid;emailAddress\r\nhal;hal@example.com\r\nivy@example.com;\r\n")
    page.goto("/console/bulk/")
    page.select_option("select[name=client]", label="idm (group smartid)")
    page.set_input_files("input[name=file]", str(csv_path))
    page.fill("input[name=profile_name]", "Bulk phone")
    page.fill("input[name=servername]", "hermod-browser")
    page.fill("input[name=invitation_hours]", "24")
    page.click("#bulk-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/bulk/\d+/$"))
    expect(page.locator("#bulk-state")).to_have_text("DONE", timeout=60_000)
    expect(page.locator("#bulk-progress")).to_contain_text("downloaded once")
    with page.expect_download() as download_info:
        page.click("#bulk-download")
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert [(r["userid"], r["email"]) for r in rows] == [
        ("hal", "hal@example.com"),
        ("ivy@example.com", "ivy@example.com"),
    ]
    assert all(r["invitation_link"].startswith("http") for r in rows)
    job = BulkJob.objects.get()
    assert {i.lifetime for i in EnrollmentInvitation.objects.all()} == {timedelta(hours=24)}
    # As promised: once. The page now says so, and the address refuses a second download.
    page.reload()
    expect(page.locator("#bulk-downloaded")).to_contain_text("handed out once")
    expect(page.locator("#bulk-download")).to_have_count(0)
    screenshot(page, "flows-bulk-downloaded")
    response = page.request.get(f"/console/bulk/{job.pk}/result.csv")
    assert response.status == 410
    assert "downloaded already" in response.text()
