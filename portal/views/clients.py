"""Clients: list, create, rotate, enable, callback settings, test callback, import, export."""

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.timezone import now
from django.views.decorators.http import require_GET, require_POST

from hermod_core.models import Client
from hermod_core.protocol.client_config import (
    ClientConfigError,
    read_client_config,
    render_client_config,
    render_client_snippet,
    render_generated_client,
)
from hermod_core.selectors import clients as client_selectors
from hermod_core.services import clients as client_services
from hermod_core.services.callbacks import callback_send_test
from hermod_core.services.clients import ClientError, IssuedKey, client_entry
from hermod_core.services.credentials import api_key_generate
from hermod_core.services.errors import ServiceError
from portal import shown_once
from portal.actors import actor_from
from portal.forms.clients import (
    ClientCallbackForm,
    ClientContentForm,
    ClientCreateForm,
    ClientImportForm,
    ClientRotateForm,
    GenerateClientForm,
)
from portal.rendering import no_store, or_404
from portal.roles import console_view


def _list_context(**forms: Any) -> dict[str, Any]:
    return {
        "clients": client_selectors.client_list(),
        "create_form": forms.get("create_form") or ClientCreateForm(),
        "import_form": forms.get("import_form") or ClientImportForm(),
        "generate_form": GenerateClientForm(),
    }


@require_GET
@console_view()
def client_list(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/clients/list.html", _list_context())


def _to_key_page(request: HttpRequest, issued: IssuedKey, *, created: bool) -> HttpResponse:
    """POST → redirect → GET: the key waits in the session for the key page's first view, so
    a reload neither creates nor rotates again (nor shows the key twice)."""
    client_id = issued.client.client_id
    shown_once.stash(request, "client-key", client_id, issued.key)
    url = reverse("portal:client_key", args=[client_id])
    return redirect(f"{url}?created=1" if created else url)


@require_GET
@console_view(admin=True)
def client_key(request: HttpRequest, client_id: str) -> HttpResponse:
    """The key just issued, shown once; afterwards this page says it is gone."""
    client = or_404(client_selectors.client_get_by_client_id(client_id))
    key = shown_once.take(request, "client-key", client.client_id)
    context: dict[str, Any] = {"client": client, "created": request.GET.get("created") == "1"}
    if key:
        issued = IssuedKey(client=client, key=key)
        context["issued"] = issued
        context["snippet"] = render_client_snippet(
            client_entry(client, key=key), issued.api_key_header
        )
    return no_store(render(request, "portal/clients/key.html", context))


@require_POST
@console_view(admin=True)
def client_create(request: HttpRequest) -> HttpResponse:
    form = ClientCreateForm(request.POST)
    if form.is_valid():
        try:
            issued = client_services.client_create(
                actor=actor_from(request),
                client_id=form.cleaned_data["client_id"],
                group_name=form.cleaned_data["group"].name,
                create_group=False,
                callback_url=form.cleaned_data["callback_url"],
                callback_basic_auth=form.cleaned_data["callback_basic_auth"],
                callback_signing_secret=form.cleaned_data["callback_signing_secret"],
                callback_attempts=form.cleaned_data["callback_attempts"],
                callback_retry_delay=form.cleaned_data["callback_retry_delay"],
                content_provider_url=form.cleaned_data["content_provider_url"].strip(),
                content_provider_basic_auth=form.cleaned_data["content_provider_basic_auth"],
            )
        except ClientError as exc:
            form.add_error(None, str(exc))
        else:
            return _to_key_page(request, issued, created=True)
    return render(request, "portal/clients/list.html", _list_context(create_form=form), status=400)


def _detail_context(client: Client, **forms: Any) -> dict[str, Any]:
    grace_until = client.previous_key_expires_at if client.previous_key_hash_at(now()) else None
    return {
        "client": client,
        "old_key_valid_until": grace_until,
        "form": forms.get("form")
        or ClientCallbackForm(initial={"callback_url": client.callback_url}),
        "rotate_form": forms.get("rotate_form") or ClientRotateForm(),
        "content_form": forms.get("content_form")
        or ClientContentForm(
            initial={
                "content_provider_url": client.content_provider_url,
                "callback_attempts": client.callback_attempts,
                "callback_retry_delay": client.callback_retry_delay,
            }
        ),
    }


def _detail_refused(request: HttpRequest, client: Client, **forms: Any) -> HttpResponse:
    """The client's page again, with the form that was refused (400)."""
    return render(
        request, "portal/clients/detail.html", _detail_context(client, **forms), status=400
    )


def _managed(client_id: str) -> Client:
    """A client that may still be changed: a deleted one answers 404 (rotating its key would
    bring it back)."""
    client = or_404(client_selectors.client_get_by_client_id(client_id))
    if client.deleted_at is not None:
        raise Http404
    return client


@require_POST
@console_view(admin=True)
def client_delete(request: HttpRequest, client_id: str) -> HttpResponse:
    client = _managed(client_id)
    try:
        client_services.client_delete(actor=actor_from(request), client=client)
    except ClientError as exc:
        messages.error(request, f"Not deleted: {exc}.")
        return redirect("portal:client_detail", client_id=client.client_id)
    messages.success(
        request, f"Client {client.client_id} deleted; its commands and their history stay."
    )
    return redirect("portal:client_list")


@require_GET
@console_view()
def client_detail(request: HttpRequest, client_id: str) -> HttpResponse:
    client = or_404(client_selectors.client_get_by_client_id(client_id))
    return render(request, "portal/clients/detail.html", _detail_context(client))


@require_POST
@console_view(admin=True)
def client_content(request: HttpRequest, client_id: str) -> HttpResponse:
    """Content provider and callback retry policy of a client."""
    client = _managed(client_id)
    form = ClientContentForm(request.POST)
    if form.is_valid():
        try:
            client_services.client_settings_update(
                actor=actor_from(request), client=client, changes=form.changes()
            )
        except ClientError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Content provider and retry settings saved.")
            return redirect("portal:client_detail", client_id=client.client_id)
    return _detail_refused(request, client, content_form=form)


@require_POST
@console_view(admin=True)
def client_rotate(request: HttpRequest, client_id: str) -> HttpResponse:
    client = _managed(client_id)
    form = ClientRotateForm(request.POST)
    if form.is_valid():
        try:
            issued = client_services.client_rotate_key(
                actor=actor_from(request), client=client, grace=form.grace()
            )
        except ClientError as exc:
            form.add_error(None, str(exc))
        else:
            return _to_key_page(request, issued, created=False)
    return _detail_refused(request, client, rotate_form=form)


@require_POST
@console_view(admin=True)
def client_enabled(request: HttpRequest, client_id: str) -> HttpResponse:
    client = _managed(client_id)
    enabled = request.POST.get("enabled") == "true"
    client_services.client_set_enabled(actor=actor_from(request), client=client, enabled=enabled)
    messages.success(request, f"{client.client_id} is {'enabled' if enabled else 'disabled'}.")
    return redirect("portal:client_detail", client_id=client.client_id)


@require_POST
@console_view(admin=True)
def client_callback(request: HttpRequest, client_id: str) -> HttpResponse:
    client = _managed(client_id)
    form = ClientCallbackForm(request.POST)
    if form.is_valid():
        basic_auth, signing_secret = form.secrets()
        try:
            client_services.client_callback_update(
                actor=actor_from(request),
                client=client,
                callback_url=form.cleaned_data["callback_url"],
                callback_basic_auth=basic_auth,
                callback_signing_secret=signing_secret,
            )
        except ClientError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Callback settings saved.")
            return redirect("portal:client_detail", client_id=client.client_id)
    return _detail_refused(request, client, form=form)


@require_POST
@console_view(admin=True)
def client_test_callback(request: HttpRequest, client_id: str) -> HttpResponse:
    client = _managed(client_id)
    context: dict[str, Any] = {"client": client}
    try:
        context["delivery"] = callback_send_test(client=client, actor=actor_from(request))
    except ServiceError as exc:
        context["error"] = str(exc)
    if getattr(request, "htmx", False):
        return render(request, "portal/clients/_test_callback.html", context)
    if "error" in context:
        messages.error(request, context["error"])
    else:
        messages.success(request, "Test callback queued; see the callback deliveries page.")
    return redirect("portal:client_detail", client_id=client.client_id)


@require_POST
@console_view(admin=True)
def clients_import(request: HttpRequest) -> HttpResponse:
    form = ClientImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            config = read_client_config(form.cleaned_data["file"])
            result = client_services.clients_import(
                entries=config.entries, notes=config.notes, actor=actor_from(request)
            )
        except (ClientConfigError, ClientError) as exc:
            form.add_error("file", str(exc))
        else:
            messages.success(
                request,
                f"Imported: {len(result.created)} created, {len(result.updated)} updated.",
            )
            for note in result.notes:
                messages.warning(request, f"From the file: {note}")
            return redirect("portal:client_list")
    return render(request, "portal/clients/list.html", _list_context(import_form=form), status=400)


@require_GET
@console_view(admin=True)
def clients_export(request: HttpRequest) -> HttpResponse:
    text = render_client_config([client_entry(client) for client in client_selectors.client_list()])
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="hermod-clients.yml"'
    return no_store(response)


@require_GET
@console_view()
def client_generate(request: HttpRequest) -> HttpResponse:
    """The generateclient snippet (docs/PROTOCOL.md §9): a fresh key, nothing stored."""
    form = GenerateClientForm(request.GET)
    if not form.is_valid():
        return render(request, "portal/clients/list.html", _list_context(), status=400)
    client_id = form.cleaned_data["client_id"]
    snippet = render_generated_client(client_id, api_key_generate())
    return no_store(
        render(request, "portal/clients/snippet.html", {"snippet": snippet, "client_id": client_id})
    )
