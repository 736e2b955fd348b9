"""Bulk provisioning: a job row first, a worker runs it, a result file with the links."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from hermod_core.crypto.csr import parse_csr_b64
from hermod_core.models import AuditEvent, Client, Command
from hermod_core.services.audit import Actor
from hermod_core.services.clients import client_create
from hermod_core.services.errors import ServiceError
from portal.models import BulkJob, BulkJobRow, BulkJobState, EnrollmentInvitation
from portal.provisioning import ProvisionSpec
from portal.services.bulk import (
    BULK_TASK,
    BulkUploadError,
    bulk_csv_parse,
    bulk_job_create,
    bulk_job_run,
    bulk_jobs_requeue_stalled,
)
from portal.tasks import bulk_provision
from tests.factories import BULK_CSV, bulk_job, bulk_upload


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"name\nann\n", "include userid"),
        (b"userid,shoe\nann,42\n", "Unknown column(s): shoe"),
        (b"userid\nann\nann\n", "Line 3: userid ann appears twice"),
        (b"userid,CN\nann\n", "Line 2: expected 2 values"),
        (b"userid\n\n", "lists no users"),
        (b"userid\n\xff\n", "not UTF-8"),
        (b"userid\n" + b"a" * 3000 + b"\n", "Line 2 is longer than 2048 characters"),
        (b'userid,CN\nann,"' + b"x\n" * 1100 + b'"\n', "Line 2: the record is longer than"),
        (
            b"userid\n" + b"".join(b"u%d\n" % i for i in range(5001)),
            "At most 5000 users per upload",
        ),
    ],
)
def test_unusable_uploads_are_explained(data, message):
    with pytest.raises(BulkUploadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bulk_csv_parse(data)


def test_columns_are_matched_without_regard_to_case():
    rows = bulk_csv_parse(b"\xef\xbb\xbfUserId,cn,EMAILADDRESS\nann,Ann,ann@x\n")
    assert rows == [{"userid": "ann", "CN": "Ann", "emailAddress": "ann@x"}]


def test_an_upload_writes_the_job_then_enqueues_it_after_commit(
    operator, operator_user, client_a, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = bulk_upload(operator, client_a.client)
    job = BulkJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:bulk_job", args=[job.pk])
    assert (job.state, job.total, job.processed, job.client) == ("PENDING", 3, 0, client_a.client)
    assert job.created_by_user == operator_user
    assert sent == [(BULK_TASK, [job.pk])]
    assert not Command.objects.exists()  # the worker creates them
    assert AuditEvent.objects.filter(action="bulk.create", actor_user=operator_user).exists()


def test_a_bad_upload_creates_no_job(operator, client_a, sent):
    response = bulk_upload(operator, client_a.client, b"userid,shoe\nann,1\n")
    assert response.status_code == 400
    assert "Unknown column" in response.content.decode()
    assert not BulkJob.objects.exists()


def test_running_a_job_creates_a_command_and_invitation_per_user(operator, client_a, sent):
    job = bulk_job(operator, client_a.client)
    assert bulk_job_run(job_id=job.pk) == BulkJobState.DONE
    job.refresh_from_db()
    assert (job.state, job.processed, job.succeeded, job.failed) == ("DONE", 3, 3, 0)
    invitations = EnrollmentInvitation.objects.order_by("userid")
    assert [i.userid for i in invitations] == ["ann", "ben", "cid"]
    assert all(i.bulk_job_id == job.pk for i in invitations)
    commands = Command.objects.order_by("id")
    assert [c.body["userid"] for c in commands] == ["ann", "ben", "cid"]
    assert {c.client for c in commands} == {client_a.client}
    subjects = [
        parse_csr_b64(c.body["profile"]["keygenrequests"][0]["certreq"]).subject_string
        for c in commands
    ]
    assert "CN=Ann Smith" in subjects[0]
    assert "ann@example.com" in subjects[0]
    assert "CN=ben" in subjects[1]  # the {userid} template where the row leaves CN empty
    assert "ben@example.com" in subjects[1]


def test_the_result_file_has_working_links_and_its_download_is_audited(
    operator, operator_user, client_a, sent
):
    job = bulk_job(operator, client_a.client)
    bulk_job_run(job_id=job.pk)
    response = operator.get(reverse("portal:bulk_result", args=[job.pk]))
    assert response["Content-Type"].startswith("text/csv")
    assert response["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["userid"] for r in rows] == ["ann", "ben", "cid"]
    assert all(r["error"] == "" for r in rows)
    link = rows[0]["invitation_link"]
    assert link.startswith("http://testserver/enroll/")
    enroll = HttpClient().get(link.removeprefix("http://testserver"))
    assert enroll.status_code == 200
    assert "<svg" in enroll.content.decode()
    assert link not in str(BulkJobRow.objects.values_list("link_sealed", flat=True)[0])
    assert AuditEvent.objects.filter(action="bulk.download", actor_user=operator_user).exists()


def test_a_finished_job_no_longer_stores_the_smart_card_admin_keys(operator, client_a, sent):
    key, old = "a1" * 24, "b2" * 24
    bulk_upload(
        operator, client_a.client, BULK_CSV, smartcardid="card-1", adminkey=key, oldadminkey=old
    )
    job = BulkJob.objects.get()
    assert (job.options["adminkey"], job.options["oldadminkey"]) == (key, old)
    assert bulk_job_run(job_id=job.pk) == BulkJobState.DONE
    job.refresh_from_db()
    assert (job.options["adminkey"], job.options["oldadminkey"]) == ("", "")
    assert job.options["smartcardid"] == "card-1"
    # The device of each command still gets them, while its command is in progress.
    assert {c.body["vscinfo"]["adminkey"] for c in Command.objects.all()} == {key}


def test_a_failing_row_is_recorded_and_the_others_go_on(operator, client_a, sent):
    job = bulk_job(operator, client_a.client, b"userid,C\nann,SE\nben,Sweden\ncid,\n")
    bulk_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.state, job.processed, job.succeeded, job.failed) == ("DONE", 3, 2, 1)
    row = BulkJobRow.objects.get(userid="ben")
    assert row.command_id is None
    assert "Subject attribute" in row.error
    page = operator.get(reverse("portal:bulk_job", args=[job.pk])).content.decode()
    assert "Subject attribute" in page


def test_a_job_run_twice_or_resumed_never_repeats_a_row(operator, client_a, sent):
    job = bulk_job(operator, client_a.client)
    bulk_job_run(job_id=job.pk)
    assert bulk_job_run(job_id=job.pk) == "skipped"
    # A worker died after the first row: the job is RUNNING with one row done.
    BulkJobRow.objects.filter(number__gt=1).delete()
    EnrollmentInvitation.objects.exclude(userid="ann").delete()
    Command.objects.exclude(body__userid="ann").delete()
    BulkJob.objects.filter(pk=job.pk).update(state="RUNNING", processed=1, succeeded=1)
    bulk_job_run(job_id=job.pk)
    assert Command.objects.filter(body__userid="ann").count() == 1
    assert Command.objects.count() == 3
    job.refresh_from_db()
    assert (job.state, job.processed) == ("DONE", 3)


def test_a_job_with_an_unreadable_template_fails_with_a_reason(operator, client_a, sent):
    job = bulk_job(operator, client_a.client)
    BulkJob.objects.filter(pk=job.pk).update(options={"nonsense": 1})
    assert bulk_job_run(job_id=job.pk) == BulkJobState.FAILED
    job.refresh_from_db()
    assert (job.state, job.processed) == ("FAILED", 0)
    assert "unreadable" in job.error
    assert not Command.objects.exists()


def test_the_task_is_a_thin_wrapper(operator, client_a, sent):
    job = bulk_job(operator, client_a.client)
    assert bulk_provision.name == BULK_TASK
    assert bulk_provision.run(job.pk) == BulkJobState.DONE


def test_the_progress_fragment_polls_until_done(operator, client_a, sent):
    job = bulk_job(operator, client_a.client)
    page = operator.get(reverse("portal:bulk_job", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in page
    assert '<progress id="bulk-bar" max="3" value="0">' in page
    url = reverse("portal:bulk_progress", args=[job.pk])
    assert operator.get(url, HTTP_HX_REQUEST="true").status_code == 200
    bulk_job_run(job_id=job.pk)
    done = operator.get(url, HTTP_HX_REQUEST="true")
    assert done.status_code == 286
    assert '<progress id="bulk-bar" max="3" value="3">' in done.content.decode()
    assert reverse("portal:bulk_result", args=[job.pk]) in done.content.decode()


def test_a_stalled_job_can_be_handed_to_a_worker_again(
    operator, client_a, sent, django_capture_on_commit_callbacks
):
    job = bulk_job(operator, client_a.client)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        operator.post(reverse("portal:bulk_requeue", args=[job.pk]))
    assert sent == []  # just created: not stalled
    BulkJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        operator.post(reverse("portal:bulk_requeue", args=[job.pk]))
    assert sent == [(BULK_TASK, [job.pk])]
    assert AuditEvent.objects.filter(action="bulk.requeue").exists()


def test_the_job_list(operator, client_a, sent, django_assert_max_num_queries):
    for _ in range(3):
        bulk_upload(operator, client_a.client)
    with django_assert_max_num_queries(8):
        page = operator.get(reverse("portal:bulk")).content.decode()
    assert page.count("users.csv") == 3


def test_a_disabled_client_cannot_start_a_job(operator, client_a, sent):
    client_a.client.enabled = False
    client_a.client.save()
    assert bulk_upload(operator, client_a.client).status_code == 400
    assert not BulkJob.objects.exists()
    # The form offers only enabled clients; the service refuses one on its own too.
    spec = ProvisionSpec(userid="", profile_name="p", servername="s", subject=(), keys=())
    with pytest.raises(ServiceError, match="is disabled"):
        bulk_job_create(
            actor=Actor(name="t"),
            client=client_a.client,
            spec=spec,
            rows=[{"userid": "ann"}],
            filename="users.csv",
            link_base="http://x",
        )
    assert not BulkJob.objects.exists()
    assert sent == []


def test_the_rows_of_a_client_disabled_after_the_upload_fail(operator, client_a, sent):
    job = bulk_job(operator, client_a.client)
    Client.objects.filter(pk=client_a.client.pk).update(enabled=False)
    bulk_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.state, job.processed, job.succeeded, job.failed) == ("DONE", 3, 0, 3)
    assert all("is disabled" in row.error for row in BulkJobRow.objects.all())
    assert not Command.objects.exists()


@pytest.mark.django_db
def test_beat_hands_stalled_jobs_to_a_worker_again(django_capture_on_commit_callbacks) -> None:
    client = client_create(client_id="bulk-idm", group_name="g", actor=Actor.system("test")).client
    old = timezone.now() - timedelta(minutes=5)
    stalled = BulkJob.objects.create(client=client, created_by="t", link_base="http://x")
    BulkJob.objects.filter(pk=stalled.pk).update(created_at=old)
    BulkJob.objects.create(client=client, created_by="t", link_base="http://x")  # fresh
    BulkJob.objects.create(client=client, created_by="t", link_base="http://x", state="DONE")
    with django_capture_on_commit_callbacks() as callbacks:
        assert bulk_jobs_requeue_stalled(batch=10) == 1
    assert len(callbacks) == 1
