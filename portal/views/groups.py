"""Groups: trusted attestation keys and the SCEP CA settings of each."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from hermod_core.models import Group
from hermod_core.selectors.ca import ca_challenge_warnings
from hermod_core.selectors.console import group_detail, group_get, group_list
from hermod_core.selectors.push import push_settings_get
from hermod_core.services.ca import (
    CaConfigurationError,
    ca_ra_identity_generate,
    ca_settings_set,
    ca_test_connection,
)
from hermod_core.services.ca_challenges import ca_verifier_rotate
from hermod_core.services.errors import ServiceError
from hermod_core.services.groups import (
    group_contents,
    group_contents_text,
    group_create,
    group_delete,
    group_rename,
)
from hermod_core.services.signer_cas import SignerCaError, signer_ca_add, signer_ca_remove
from hermod_core.services.trusted_keys import trusted_key_add, trusted_key_remove
from portal import shown_once
from portal.actors import actor_from
from portal.forms.groups import (
    CaSettingsForm,
    GroupNameForm,
    RaIdentityForm,
    TrustedKeyForm,
    TrustedSignerCaForm,
)
from portal.forms.pushes import PushSettingsForm
from portal.rendering import no_store, or_404
from portal.roles import console_view


def _list_page(
    request: HttpRequest, form: GroupNameForm | None = None, *, status: int = 200
) -> HttpResponse:
    context = {"groups": group_list(), "create_form": form or GroupNameForm()}
    return render(request, "portal/groups/list.html", context, status=status)


@require_GET
@console_view()
def groups(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


@require_POST
@console_view(admin=True)
def group_create_view(request: HttpRequest) -> HttpResponse:
    form = GroupNameForm(request.POST)
    if form.is_valid():
        try:
            group = group_create(actor=actor_from(request), name=form.cleaned_data["name"])
        except ServiceError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Group {group.name} created.")
            return redirect("portal:group", name=group.name)
    return _list_page(request, form, status=400)


@require_POST
@console_view(admin=True)
def group_rename_view(request: HttpRequest, name: str) -> HttpResponse:
    group = or_404(group_get(name))
    form = GroupNameForm(request.POST, prefix="rename")
    if form.is_valid():
        try:
            group_rename(actor=actor_from(request), group=group, name=form.cleaned_data["name"])
        except ServiceError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Group {name} is now called {group.name}.")
            return redirect("portal:group", name=group.name)
    return group_detail_page(request, group, status=400, rename_form=form)


@require_POST
@console_view(admin=True)
def group_delete_view(request: HttpRequest, name: str) -> HttpResponse:
    group = or_404(group_get(name))
    try:
        group_delete(actor=actor_from(request), group=group)
    except ServiceError as exc:
        messages.error(request, str(exc))
        return redirect("portal:group", name=group.name)
    messages.success(request, f"Group {name} deleted.")
    return redirect("portal:groups")


def group_detail_page(
    request: HttpRequest,
    group: Group,
    *,
    status: int = 200,
    verifier_credential: str = "",
    **forms: Any,
) -> HttpResponse:
    detail = group_detail(group)
    ca = detail["ca"]
    initial = (
        {
            "scep_url": ca.scep_url,
            "enabled": ca.enabled,
            "auto_certify": ca.auto_certify,
            "challenge_mode": ca.challenge_mode,
        }
        if ca
        else {"enabled": True}
    )
    context = {
        "group": group,
        **detail,
        "ca_warnings": ca_challenge_warnings(ca) if ca else [],
        "verifier_credential": verifier_credential,
        "key_form": forms.get("key_form") or TrustedKeyForm(),
        "signer_ca_form": forms.get("signer_ca_form") or TrustedSignerCaForm(),
        "ca_form": forms.get("ca_form") or CaSettingsForm(initial=initial),
        "ra_form": RaIdentityForm(initial={"common_name": f"Hermod RA {group.name}"}),
        **push_context(group, forms.get("push_form")),
        "rename_form": forms.get("rename_form")
        or GroupNameForm(prefix="rename", initial={"name": group.name}),
        "contents": group_contents_text(group_contents(group)),
    }
    return render(request, "portal/groups/detail.html", context, status=status)


def push_context(group: Group, form: PushSettingsForm | None) -> dict[str, Any]:
    """The push section: the settings (secrets only as set / not set) and the form."""
    push = push_settings_get(group)
    return {
        "push": push,
        "push_providers": sorted(push.providers()) if push else [],
        "push_form": form or PushSettingsForm.for_settings(push),
    }


@require_GET
@console_view()
def group_page(request: HttpRequest, name: str) -> HttpResponse:
    group = or_404(group_get(name))
    credential = shown_once.take(request, "ca-verifier", group.pk)
    if credential:
        return no_store(group_detail_page(request, group, verifier_credential=credential))
    return group_detail_page(request, group)


@require_POST
@console_view(admin=True)
def group_key_add(request: HttpRequest, name: str) -> HttpResponse:
    group = or_404(group_get(name))
    form = TrustedKeyForm(request.POST)
    if form.is_valid():
        try:
            key = trusted_key_add(
                actor=actor_from(request),
                group=group,
                jwk_text=form.cleaned_data["jwk"],
                label=form.cleaned_data["label"],
            )
        except ServiceError as exc:
            form.add_error("jwk", str(exc))
        else:
            messages.success(request, f"Key {key.thumbprint} is now trusted.")
            return redirect("portal:group", name=group.name)
    return group_detail_page(request, group, status=400, key_form=form)


@require_POST
@console_view(admin=True)
def group_key_remove(request: HttpRequest, name: str, key_id: int) -> HttpResponse:
    group = or_404(group_get(name))
    key = or_404(group.trusted_keys.filter(pk=key_id).first())
    trusted_key_remove(actor=actor_from(request), key=key)
    messages.success(request, f"Key {key.thumbprint} is no longer trusted.")
    return redirect("portal:group", name=group.name)


@require_POST
@console_view(admin=True)
def group_signer_ca_add(request: HttpRequest, name: str) -> HttpResponse:
    group = or_404(group_get(name))
    form = TrustedSignerCaForm(request.POST)
    if form.is_valid():
        try:
            ca = signer_ca_add(
                group=group,
                certificate_text=form.cleaned_data["certificate"],
                label=form.cleaned_data["label"],
                actor=actor_from(request),
            )
        except SignerCaError as exc:
            form.add_error("certificate", str(exc))
        else:
            messages.success(request, f"Signer CA {ca.subject} is now trusted.")
            return redirect("portal:group", name=group.name)
    return group_detail_page(request, group, status=400, signer_ca_form=form)


@require_POST
@console_view(admin=True)
def group_signer_ca_remove(request: HttpRequest, name: str, ca_id: int) -> HttpResponse:
    group = or_404(group_get(name))
    ca = or_404(group.trusted_signer_cas.filter(pk=ca_id).first())
    signer_ca_remove(ca=ca, actor=actor_from(request))
    messages.success(request, f"Signer CA {ca.subject} is no longer trusted.")
    return redirect("portal:group", name=group.name)


@require_POST
@console_view(admin=True)
def group_ca_save(request: HttpRequest, name: str) -> HttpResponse:
    group = or_404(group_get(name))
    form = CaSettingsForm(request.POST)
    if form.is_valid():
        try:
            ca_settings_set(actor=actor_from(request), group=group, **form.changes())
        except CaConfigurationError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "CA settings saved.")
            return redirect("portal:group", name=group.name)
    return group_detail_page(request, group, status=400, ca_form=form)


@require_POST
@console_view(admin=True)
def group_ca_ra(request: HttpRequest, name: str) -> HttpResponse:
    group = or_404(group_get(name))
    form = RaIdentityForm(request.POST)
    common_name = form.cleaned_data["common_name"] if form.is_valid() else ""
    try:
        ca_ra_identity_generate(actor=actor_from(request), group=group, common_name=common_name)
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "A new RA identity was generated; register its certificate.")
    return redirect("portal:group", name=group.name)


@require_POST
@console_view(admin=True)
def group_ca_verifier(request: HttpRequest, name: str) -> HttpResponse:
    """A new verifier credential, shown by the next (uncached) view of the group page and never
    again: POST → redirect → GET, so that a reload does not replace it once more."""
    group = or_404(group_get(name))
    try:
        credential = ca_verifier_rotate(actor=actor_from(request), group=group)
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        shown_once.stash(request, "ca-verifier", group.pk, credential)
    return redirect("portal:group", name=group.name)


@require_POST
@console_view(admin=True)
def group_ca_test(request: HttpRequest, name: str) -> HttpResponse:
    group = or_404(group_get(name))
    result = ca_test_connection(actor=actor_from(request), group=group)
    if getattr(request, "htmx", False):
        return render(request, "portal/groups/_ca_test.html", {"result": result})
    if result.ok:
        messages.success(
            request, f"The CA answered: {', '.join(result.capabilities) or 'no capabilities'}."
        )
    else:
        messages.error(request, f"The CA test failed: {result.error}")
    return redirect("portal:group", name=group.name)
