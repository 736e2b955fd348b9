"""No silent duplicates, and invitations managed: their own lifetime, revoke, re-send, and the
bulk result file handed out once with an email column for a mail merge."""

import csv
import io
import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from hermod_core.lifecycle import State
from hermod_core.models import AuditEvent, Command
from portal.models import BulkJob, BulkJobRow, EnrollmentInvitation
from portal.services.bulk import (
    bulk_csv_parse,
    bulk_job_run,
)
from tests.factories import bulk_job, bulk_upload, complete, make_profile, provision_data

LINK = re.compile(r'id="invitation-link">(http://testserver/enroll/[A-Za-z0-9_-]+)<')


def _invite(http, client, **overrides):
    return http.post(
        reverse("portal:provision"), provision_data(client, **{"action": "invite", **overrides})
    )


def _link_of(http, response) -> str:
    found = LINK.search(http.get(response["Location"]).content.decode())
    assert found, "the result page shows the link"
    return found.group(1).removeprefix("http://testserver")


# --- POST → redirect → GET ----------------------------------------------------------------


def test_a_reload_of_any_result_page_creates_nothing(operator, client_a, sent) -> None:
    issued = operator.post(reverse("portal:provision"), provision_data(client_a.client))
    invited = _invite(operator, client_a.client, userid="bea")
    uploaded = bulk_upload(operator, client_a.client)
    for response in (issued, invited, uploaded):
        assert response.status_code == 302
        for _ in range(2):
            assert operator.get(response["Location"]).status_code == 200
    assert Command.objects.count() == 2
    assert EnrollmentInvitation.objects.count() == 1
    assert BulkJob.objects.count() == 1


# --- an open invitation warns -------------------------------------------------------------


def test_a_second_invitation_for_a_user_warns_and_offers_to_revoke(operator, client_a) -> None:
    _invite(operator, client_a.client)
    first = EnrollmentInvitation.objects.get()
    response = _invite(operator, client_a.client)
    assert response.status_code == 200
    page = response.content.decode()
    assert "alice@example.com already has an open enrollment invitation" in page
    assert reverse("portal:invitation", args=[first.pk]) in page
    assert 'value="invite-revoke"' in page
    assert 'value="invite-keep"' in page
    # Nothing was created; the form keeps what was typed.
    assert EnrollmentInvitation.objects.count() == 1
    assert Command.objects.count() == 1
    assert 'value="Work phone"' in page


def test_revoke_and_invite_withdraws_the_open_one(operator, client_a) -> None:
    first_link = _link_of(operator, _invite(operator, client_a.client))
    first = EnrollmentInvitation.objects.get()
    response = _invite(operator, client_a.client, action="invite-revoke")
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.revoked_at is not None
    assert first.command.state == State.CANCELLED
    assert EnrollmentInvitation.objects.count() == 2
    assert HttpClient().get(first_link).status_code == 410
    assert AuditEvent.objects.filter(action="invitation.revoke").count() == 1


def test_invite_anyway_keeps_both(operator, client_a) -> None:
    _invite(operator, client_a.client)
    assert _invite(operator, client_a.client, action="invite-keep").status_code == 302
    assert EnrollmentInvitation.objects.open(timezone.now()).count() == 2


def test_a_used_revoked_or_expired_invitation_does_not_warn(operator, client_a) -> None:
    _invite(operator, client_a.client)
    first = EnrollmentInvitation.objects.get()
    complete(first.command, make_profile(client_a.client, "alice@example.com"))
    assert _invite(operator, client_a.client).status_code == 302
    EnrollmentInvitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _invite(operator, client_a.client).status_code == 302


def test_another_groups_invitation_for_the_same_user_id_does_not_warn(
    operator, client_a, client_b
) -> None:
    _invite(operator, client_b.client)
    assert _invite(operator, client_a.client).status_code == 302


def test_a_bulk_row_for_a_user_with_an_open_invitation_fails_with_the_reason(
    operator,
    client_a,
    sent,
) -> None:
    _invite(operator, client_a.client, userid="ann")
    job = bulk_job(operator, client_a.client)
    bulk_job_run(job_id=job.pk)
    row = BulkJobRow.objects.get(job=job, userid="ann")
    assert row.command_id is None
    assert "ann has an open invitation" in row.error
    assert "revoke it first" in row.error
    assert EnrollmentInvitation.objects.filter(userid="ann").count() == 1


# --- lifetime -------------------------------------------------------------------------------


def test_the_lifetime_is_chosen_per_request_within_bounds(operator, client_a) -> None:
    _invite(operator, client_a.client, invitation_hours=5)
    invitation = EnrollmentInvitation.objects.get()
    assert invitation.lifetime == timedelta(hours=5)
    assert abs(invitation.expires_at - invitation.created_at - timedelta(hours=5)) < timedelta(
        seconds=5
    )
    response = _invite(operator, client_a.client, userid="bo", invitation_hours=99999)
    assert response.status_code == 400
    assert response.context["form"].errors["invitation_hours"] == [
        "Ensure this value is less than or equal to 2160."
    ]


def test_the_server_default_lifetime_comes_from_the_environment(
    operator, client_a, settings
) -> None:
    settings.HERMOD_INVITATION_LIFETIME_HOURS = 24
    _invite(operator, client_a.client)
    assert EnrollmentInvitation.objects.get().lifetime == timedelta(hours=24)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", "5"), ("0", "HERMOD_INVITATION_LIFETIME_HOURS: must be at least 1, got 0")],
)
def test_the_server_default_is_read_from_the_environment_at_start_up(value, expected) -> None:
    env = {**os.environ, "HERMOD_INVITATION_LIFETIME_HOURS": value}
    env["DJANGO_SETTINGS_MODULE"] = "hermod_core.settings"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; print(settings.HERMOD_INVITATION_LIFETIME_HOURS)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert expected in result.stdout + result.stderr
    assert (result.returncode == 0) is (value == "5")


# --- revoke and re-send from the Invitations page -----------------------------------------


def test_the_invitations_page_offers_revoke_and_resend_for_open_ones_only(
    operator, client_a
) -> None:
    _invite(operator, client_a.client)
    _invite(operator, client_a.client, userid="used")
    used = EnrollmentInvitation.objects.get(userid="used")
    complete(used.command, make_profile(client_a.client, "used"))
    page = operator.get(reverse("portal:invitations")).content.decode()
    open_one = EnrollmentInvitation.objects.get(userid="alice@example.com")
    assert reverse("portal:invitation_revoke", args=[open_one.pk]) in page
    assert reverse("portal:invitation_resend", args=[open_one.pk]) in page
    assert reverse("portal:invitation_revoke", args=[used.pk]) not in page
    assert 'data-invitation="used"' in page
    assert 'data-invitation="open"' in page


def test_resending_makes_a_new_link_and_kills_the_old(operator, operator_user, client_a) -> None:
    old_link = _link_of(operator, _invite(operator, client_a.client))
    invitation = EnrollmentInvitation.objects.get()
    EnrollmentInvitation.objects.update(expires_at=timezone.now() + timedelta(hours=1))
    response = operator.post(reverse("portal:invitation_resend", args=[invitation.pk]))
    assert response.status_code == 302
    new_link = _link_of(operator, response)
    assert new_link != old_link
    assert HttpClient().get(old_link).status_code == 404
    assert HttpClient().get(new_link).status_code == 200
    invitation.refresh_from_db()
    assert invitation.expires_at > timezone.now() + timedelta(hours=71)
    assert invitation.command_id == Command.objects.get().pk  # the same request
    event = AuditEvent.objects.get(action="invitation.resend")
    assert event.actor_user == operator_user
    # Shown once.
    assert "enroll/" not in operator.get(response["Location"]).content.decode().split("<pre")[0]
    assert not LINK.search(operator.get(response["Location"]).content.decode())


def test_an_expired_link_can_be_resent(operator, client_a) -> None:
    _invite(operator, client_a.client)
    invitation = EnrollmentInvitation.objects.get()
    EnrollmentInvitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    response = operator.post(reverse("portal:invitation_resend", args=[invitation.pk]))
    assert HttpClient().get(_link_of(operator, response)).status_code == 200


def test_a_revoked_or_used_invitation_is_not_resent(operator, client_a) -> None:
    _invite(operator, client_a.client)
    invitation = EnrollmentInvitation.objects.get()
    operator.post(reverse("portal:invitation_revoke", args=[invitation.pk]))
    response = operator.post(reverse("portal:invitation_resend", args=[invitation.pk]), follow=True)
    assert "was revoked; create a new one" in response.content.decode()
    assert not LINK.search(response.content.decode())


def test_revoking_cancels_the_request_and_the_link(operator, client_a) -> None:
    link = _link_of(operator, _invite(operator, client_a.client))
    invitation = EnrollmentInvitation.objects.get()
    response = operator.post(reverse("portal:invitation_revoke", args=[invitation.pk]), follow=True)
    assert 'data-invitation="revoked"' in response.content.decode()
    assert Command.objects.get().state == State.CANCELLED
    assert HttpClient().get(link).status_code == 410
    # Twice is harmless.
    operator.post(reverse("portal:invitation_revoke", args=[invitation.pk]))
    assert AuditEvent.objects.filter(action="invitation.revoke").count() == 1


def test_an_unknown_invitation_is_404(operator) -> None:
    assert operator.get(reverse("portal:invitation", args=[999])).status_code == 404
    assert operator.post(reverse("portal:invitation_revoke", args=[999])).status_code == 404
    assert operator.post(reverse("portal:invitation_resend", args=[999])).status_code == 404


# --- the bulk result file -----------------------------------------------------------------


def test_the_result_file_downloads_once_with_an_email_column(
    operator,
    client_a,
    sent,
) -> None:
    job = bulk_job(
        operator, client_a.client, b"userid,emailAddress\nann,ann@example.com\nbo@x.org,\n"
    )
    bulk_job_run(job_id=job.pk)
    page = operator.get(reverse("portal:bulk_job", args=[job.pk])).content.decode()
    assert "downloaded <strong>once</strong>" in page
    first = operator.get(reverse("portal:bulk_result", args=[job.pk]))
    assert first.status_code == 200
    rows = list(csv.DictReader(io.StringIO(first.content.decode())))
    assert [(r["userid"], r["email"]) for r in rows] == [
        ("ann", "ann@example.com"),
        ("bo@x.org", "bo@x.org"),
    ]
    assert all(r["invitation_link"].startswith("http://testserver/enroll/") for r in rows)
    # The second download is refused with the reason; the links are forgotten.
    second = operator.get(reverse("portal:bulk_result", args=[job.pk]))
    assert second.status_code == 410
    text = second.content.decode()
    assert "downloaded already" in text
    assert "oscar-operator" in text
    assert "enroll/" not in text
    assert set(BulkJobRow.objects.values_list("link_sealed", flat=True)) == {""}
    assert AuditEvent.objects.filter(action="bulk.download").count() == 1
    # The links themselves still work (only the file is gone).
    enroll = HttpClient().get(rows[0]["invitation_link"].removeprefix("http://testserver"))
    assert enroll.status_code == 200


def test_the_email_column_uses_the_templates_address_with_the_user_id(
    operator,
    client_a,
    sent,
) -> None:
    bulk_upload(
        operator, client_a.client, b"userid\nann\n", subject_emailAddress="{userid}@acme.test"
    )
    job = BulkJob.objects.get()
    bulk_job_run(job_id=job.pk)
    response = operator.get(reverse("portal:bulk_result", args=[job.pk]))
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows[0]["email"] == "ann@acme.test"


def test_a_running_jobs_file_is_not_handed_out(operator, client_a, sent) -> None:
    job = bulk_job(operator, client_a.client)
    response = operator.get(reverse("portal:bulk_result", args=[job.pk]))
    assert response.status_code == 410
    assert "still running" in response.content.decode()
    assert BulkJob.objects.get().result_downloaded_at is None


# --- semicolon-separated uploads ----------------------------------------------------------


def test_a_semicolon_separated_upload_is_read() -> None:
    rows = bulk_csv_parse(b"userid;CN;emailAddress\r\nann;Ann Smith;ann@example.com\r\n")
    assert rows == [{"userid": "ann", "CN": "Ann Smith", "emailAddress": "ann@example.com"}]


def test_a_tab_separated_upload_is_read() -> None:
    assert bulk_csv_parse(b"userid\tCN\nann\tAnn\n") == [{"userid": "ann", "CN": "Ann"}]


def test_a_line_with_the_wrong_separator_is_named_as_the_problem() -> None:
    from portal.services.bulk import (
        BulkUploadError,
    )

    with pytest.raises(BulkUploadError, match="Line 3: expected 2 values separated by semicolons"):
        bulk_csv_parse(b"userid;CN\nann;Ann\nben,Ben\n")
