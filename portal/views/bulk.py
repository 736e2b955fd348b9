"""Bulk provisioning: upload a CSV, watch the job, download the result file."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from hermod_core.selectors.console import clients_enabled
from hermod_core.services.errors import ServiceError
from portal.actors import actor_from
from portal.forms.bulk import BulkUploadForm
from portal.forms.provision import (
    BaseKeyRequestFormSet,
    key_requests,
)
from portal.rendering import live_fragment, no_store, or_404
from portal.roles import console_view
from portal.selectors import bulk_job_get, bulk_job_list, bulk_job_rows
from portal.services.bulk import (
    BulkResultGoneError,
    BulkUploadError,
    bulk_csv_parse,
    bulk_job_create,
    bulk_job_requeue,
    bulk_result_csv,
)


def _list_page(
    request: HttpRequest, form: BulkUploadForm, keys: BaseKeyRequestFormSet, *, status: int = 200
) -> HttpResponse:
    context = {"form": form, "keys": keys, "jobs": bulk_job_list()}
    return render(request, "portal/bulk/list.html", context, status=status)


@require_GET
@console_view()
def bulk(request: HttpRequest) -> HttpResponse:
    form = BulkUploadForm(clients=clients_enabled())
    return _list_page(request, form, key_requests())


@require_POST
@console_view()
def bulk_create(request: HttpRequest) -> HttpResponse:
    form = BulkUploadForm(request.POST, request.FILES, clients=clients_enabled())
    keys = key_requests(request.POST)
    if form.is_valid() and keys.is_valid():
        upload = form.cleaned_data["file"]
        try:
            rows = bulk_csv_parse(upload.read())
            job = bulk_job_create(
                actor=actor_from(request),
                client=form.cleaned_data["client"],
                spec=form.spec(keys.specs()),
                rows=rows,
                filename=upload.name or "",
                link_base=request.build_absolute_uri("/"),
                invitation_lifetime=form.invitation_lifetime(),
            )
        except (BulkUploadError, ServiceError) as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("portal:bulk_job", job_id=job.pk)
    return _list_page(request, form, keys, status=400)


@require_GET
@console_view()
def bulk_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = or_404(bulk_job_get(job_id))
    return render(request, "portal/bulk/detail.html", {"job": job, "rows": bulk_job_rows(job)})


@require_GET
@console_view()
def bulk_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    job = or_404(bulk_job_get(job_id))
    rows = bulk_job_rows(job) if job.is_final else []
    return live_fragment(
        request, "portal/bulk/_progress.html", {"job": job, "rows": rows}, final=job.is_final
    )


@require_GET
@console_view()
def bulk_result(request: HttpRequest, job_id: int) -> HttpResponse:
    job = or_404(bulk_job_get(job_id))
    try:
        text = bulk_result_csv(actor=actor_from(request), job=job)
    except BulkResultGoneError as exc:
        messages.error(request, str(exc))
        response = render(
            request,
            "portal/bulk/detail.html",
            {"job": job, "rows": bulk_job_rows(job)},
            status=410,
        )
        return no_store(response)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="bulk-{job.pk}-result.csv"'
    return no_store(response)


@require_POST
@console_view()
def bulk_requeue(request: HttpRequest, job_id: int) -> HttpResponse:
    job = or_404(bulk_job_get(job_id))
    if bulk_job_requeue(actor=actor_from(request), job=job):
        messages.success(request, "The job was handed to a worker again.")
    else:
        messages.error(request, "The job is finished or still making progress.")
    return redirect("portal:bulk_job", job_id=job.pk)
