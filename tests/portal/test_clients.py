"""Clients in the console: create (key once), rotate, enable, callbacks, test callback, files."""

import base64
import io

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from hermod_core.models import AuditEvent, CallbackDelivery, Client, DeliveryState, Group
from hermod_core.protocol.client_config import parse_client_config
from hermod_core.services.audit import Actor
from hermod_core.services.clients import (
    ClientError,
    client_callback_update,
    client_create,
    client_delete,
)
from hermod_core.services.credentials import api_key_hash, api_key_matches


def test_the_list_shows_every_client_in_a_fixed_number_of_queries(
    admin, client_a, client_b, django_assert_max_num_queries
) -> None:
    for n in range(10):
        client_create(client_id=f"c{n}", group_name=f"g{n}", actor=Actor.system("test"))
    with django_assert_max_num_queries(8):
        page = admin.get(reverse("portal:client_list")).content.decode()
    assert "idm" in page
    assert "other-tenant" in page
    assert "c9" in page


def test_creating_a_client_shows_its_key_once_with_the_header_value(admin, admin_user) -> None:
    Group.objects.create(name="smartid")
    posted = admin.post(
        reverse("portal:client_create"),
        {"client_id": "gateway", "group": "smartid", "callback_url": "https://gw.example.com/cb"},
        REMOTE_ADDR="192.0.2.7",
    )
    # POST → redirect → GET: a reload of the key page creates nothing.
    assert posted.status_code == 302
    assert posted["Location"] == reverse("portal:client_key", args=["gateway"]) + "?created=1"
    response = admin.get(posted["Location"])
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key = response.context["issued"].key
    header = response.context["issued"].api_key_header
    page = response.content.decode()
    assert key in page
    assert header in page
    assert 'data-copy="api-key-header"' in page
    assert base64.b64decode(header).decode() == f"gateway:{key}"
    client = Client.objects.get(client_id="gateway")
    assert client.key_hash == api_key_hash(key)
    assert key not in str(Client.objects.filter(pk=client.pk).values().get())
    event = AuditEvent.objects.get(action="client.create")
    assert (event.actor, event.actor_user, event.ip) == ("alice-admin", admin_user, "192.0.2.7")
    # Shown once: neither the client page nor a reload of the key page shows it again.
    assert key not in admin.get(reverse("portal:client_detail", args=["gateway"])).content.decode()
    again = admin.get(posted["Location"]).content.decode()
    assert key not in again
    assert "shown once and is gone" in again
    assert Client.objects.filter(client_id="gateway").count() == 1


def test_a_duplicate_client_id_is_refused(admin, client_a) -> None:
    response = admin.post(reverse("portal:client_create"), {"client_id": "idm", "group": "x"})
    assert response.status_code == 400
    assert "already exists" in response.content.decode()


def test_the_form_the_command_line_and_the_service_refuse_a_taken_id_in_the_same_words(
    admin, client_a
) -> None:
    with pytest.raises(ClientError) as refused:
        client_create(client_id="idm", group_name="smartid", actor=Actor.system("test"))
    said = str(refused.value)
    assert said == "client 'idm' already exists"
    with pytest.raises(CommandError) as cli:
        call_command("hermod_client", "create", "idm", "--group", "smartid", stdout=io.StringIO())
    assert str(cli.value) == said
    response = admin.post(reverse("portal:client_create"), {"client_id": "idm", "group": "smartid"})
    assert response.status_code == 400
    assert response.context["create_form"].errors["client_id"] == [said]
    # A deleted client's id stays taken (its commands keep naming it), in the same words too.
    client_delete(client=client_a.client, actor=Actor.system("test"))
    with pytest.raises(ClientError) as deleted:
        client_create(client_id="idm", group_name="smartid", actor=Actor.system("test"))
    assert "was deleted" in str(deleted.value)
    response = admin.post(reverse("portal:client_create"), {"client_id": "idm", "group": "smartid"})
    assert response.context["create_form"].errors["client_id"] == [str(deleted.value)]


def test_an_invalid_callback_url_is_refused(admin, client_a) -> None:
    response = admin.post(
        reverse("portal:client_create"),
        {"client_id": "gw", "group": "smartid", "callback_url": "ftp://nope"},
    )
    assert response.status_code == 400
    assert not Client.objects.filter(client_id="gw").exists()
    # On its field, saying what is valid.
    assert response.context["create_form"].errors["callback_url"] == [
        "Enter an absolute http or https URL, e.g. https://idm.example.com/hermod."
    ]


def test_rotating_a_key_kills_the_old_one(admin, client_a) -> None:
    posted = admin.post(reverse("portal:client_rotate", args=["idm"]))
    assert posted.status_code == 302
    response = admin.get(posted["Location"])
    assert response.status_code == 200
    new_key = response.context["issued"].key
    client = Client.objects.get(client_id="idm")
    assert api_key_matches(new_key, client.key_hash)
    assert not api_key_matches(client_a.key, client.key_hash)
    assert AuditEvent.objects.filter(action="client.rotate_key", actor_user__isnull=False).exists()


def test_disabling_and_enabling_a_client(admin, client_a) -> None:
    admin.post(reverse("portal:client_enabled", args=["idm"]), {"enabled": "false"})
    assert Client.objects.get(client_id="idm").enabled is False
    admin.post(reverse("portal:client_enabled", args=["idm"]), {"enabled": "true"})
    assert Client.objects.get(client_id="idm").enabled is True
    actions = list(AuditEvent.objects.filter(target_id="idm").values_list("action", flat=True))
    assert {"client.disable", "client.enable"} <= set(actions)


def test_callback_settings_keep_secrets_unless_changed(admin, client_a) -> None:
    Client.objects.filter(client_id="idm").update(
        callback_basic_auth="u:p", callback_signing_secret="s1"
    )
    url = reverse("portal:client_callback", args=["idm"])
    admin.post(url, {"callback_url": "https://new.example.com/cb"})
    client = Client.objects.get(client_id="idm")
    assert (client.callback_url, client.callback_basic_auth, client.callback_signing_secret) == (
        "https://new.example.com/cb",
        "u:p",
        "s1",
    )
    # A secret no random page token can contain by chance (a CSRF token holds "s2" now and then).
    secret = "signing-secret-never-shown"
    admin.post(
        url, {"callback_url": "", "callback_signing_secret": secret, "clear_basic_auth": "on"}
    )
    client.refresh_from_db()
    assert (client.callback_url, client.callback_basic_auth, client.callback_signing_secret) == (
        "",
        "",
        secret,
    )
    event = AuditEvent.objects.filter(action="client.update_callback").first()
    assert secret not in str(event.details)
    detail = admin.get(reverse("portal:client_detail", args=["idm"])).content.decode()
    assert secret not in detail


def test_a_refused_callback_change_leaves_the_client_as_it_was(client_a) -> None:
    client = client_a.client
    before = (client.callback_url, client.callback_basic_auth, client.callback_signing_secret)
    for changes in (
        {"callback_url": "not a url", "callback_basic_auth": "u:p2"},
        {"callback_url": "https://new.example.com/cb", "callback_basic_auth": "nocolon"},
    ):
        with pytest.raises(ClientError):
            client_callback_update(
                actor=Actor(name="t"), client=client, callback_signing_secret="s9", **changes
            )
        after = (client.callback_url, client.callback_basic_auth, client.callback_signing_secret)
        assert after == before
    client.refresh_from_db()
    assert (client.callback_url, client.callback_basic_auth) == before[:2]
    assert not AuditEvent.objects.filter(action="client.update_callback").exists()


def test_bad_basic_auth_is_refused(admin, client_a) -> None:
    response = admin.post(
        reverse("portal:client_callback", args=["idm"]),
        {"callback_url": "https://x.example.com", "callback_basic_auth": "nocolon"},
    )
    assert response.status_code == 400
    assert "user:password" in response.content.decode()


def test_a_test_callback_goes_through_the_outbox(
    admin, client_a, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    sent = []
    monkeypatch.setattr(
        "hermod_core.services.dispatch._send",
        lambda name, args, countdown: sent.append((name, args)),
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            reverse("portal:client_test_callback", args=["idm"]), HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200
    delivery = CallbackDelivery.objects.get(command__isnull=True)
    assert delivery.path == "/callback/test"
    assert delivery.state == DeliveryState.PENDING
    assert delivery.body["test"] is True
    assert sent == [("hermod.callbacks.deliver", [delivery.pk])]
    assert AuditEvent.objects.filter(action="callback.test", target_id="idm").exists()


def test_a_client_without_callback_url_cannot_be_tested(admin, db) -> None:
    client_create(client_id="poller", group_name="g", actor=Actor.system("test"))
    response = admin.post(
        reverse("portal:client_test_callback", args=["poller"]), HTTP_HX_REQUEST="true"
    )
    assert "has no callback URL" in response.content.decode()
    assert not CallbackDelivery.objects.exists()


CONFIG = """
hermod:
  allowedClients:
    - clientId: imported
      key: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
      group: tenant-x
      callbackUrl: https://imported.example.com/cb
"""


def test_importing_a_configuration_file(admin, admin_user) -> None:
    upload = SimpleUploadedFile("hermod.yml", CONFIG.encode(), content_type="application/yaml")
    response = admin.post(reverse("portal:clients_import"), {"file": upload})
    assert response.status_code == 302
    client = Client.objects.get(client_id="imported")
    assert client.group.name == "tenant-x"
    assert api_key_matches("0123456789abcdef" * 4, client.key_hash)
    assert AuditEvent.objects.get(action="clients.import").actor_user == admin_user


def test_an_unusable_configuration_file_is_refused_whole(admin) -> None:
    upload = SimpleUploadedFile("bad.yml", b"allowed-clients:\n  - group: x\n")
    response = admin.post(reverse("portal:clients_import"), {"file": upload})
    assert response.status_code == 400
    assert "client-id is missing" in response.content.decode()
    assert not Client.objects.exists()


def test_a_yaml_bomb_is_refused_with_a_reason(admin) -> None:
    bomb = "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nallowed-clients: [{client-id: a, group: *b}]\n"
    upload = SimpleUploadedFile("bomb.yml", bomb.encode())
    response = admin.post(reverse("portal:clients_import"), {"file": upload})
    assert response.status_code == 400
    assert "YAML aliases (*name) are not allowed" in response.content.decode()
    assert not Client.objects.exists()


def test_exporting_gives_the_same_format_without_keys(admin, client_a, client_b) -> None:
    response = admin.get(reverse("portal:clients_export"))
    assert response["Content-Disposition"].startswith("attachment")
    text = response.content.decode()
    entries = parse_client_config(text)
    assert {e.client_id for e in entries} == {"idm", "other-tenant"}
    assert all(not e.key for e in entries)
    assert client_a.key not in text


def test_the_generateclient_snippet(operator) -> None:
    response = operator.get(reverse("portal:client_generate"), {"client_id": "newapp"})
    assert response.status_code == 200
    snippet = response.context["snippet"]
    assert snippet.startswith("# X-Api-Key: ")
    entry = yaml.safe_load(snippet)[0]
    assert entry["client-id"] == "newapp"
    assert len(entry["key"]) == 64
    assert not Client.objects.filter(client_id="newapp").exists()


@pytest.mark.parametrize("client_id", ["", "a:b", "x" * 101])
def test_the_snippet_refuses_a_bad_client_id(operator, client_id) -> None:
    assert (
        operator.get(reverse("portal:client_generate"), {"client_id": client_id}).status_code == 400
    )


def test_an_unknown_client_is_404(admin, db) -> None:
    assert admin.get(reverse("portal:client_detail", args=["nobody"])).status_code == 404
    assert admin.post(reverse("portal:client_rotate", args=["nobody"])).status_code == 404


def test_content_provider_and_retry_policy_are_set_kept_and_never_shown_back(
    admin, client_a
) -> None:
    url = reverse("portal:client_content", args=["idm"])
    data = {
        "content_provider_url": "https://content.example.com/api",
        "content_provider_basic_auth": "cp:s3cret",
        "callback_attempts": "2",
        "callback_retry_delay": "7",
    }
    assert admin.post(url, data).status_code == 302
    client = Client.objects.get(client_id="idm")
    assert (client.content_provider_url, client.content_provider_basic_auth) == (
        "https://content.example.com/api",
        "cp:s3cret",
    )
    assert (client.callback_attempts, client.callback_retry_delay) == (2, 7)
    admin.post(url, {"content_provider_url": "https://other.example.com"})  # blank: keep auth
    client.refresh_from_db()
    assert client.content_provider_basic_auth == "cp:s3cret"
    assert (client.callback_attempts, client.callback_retry_delay) == (None, None)
    event = AuditEvent.objects.filter(action="client.update_settings").order_by("id").first()
    assert event.details["content_provider_basic_auth"] == "changed"
    detail = admin.get(reverse("portal:client_detail", args=["idm"])).content.decode()
    assert "s3cret" not in detail
    assert "basic auth set" in detail
    refused = admin.post(url, {"content_provider_url": "ftp://x", "callback_attempts": "1"})
    assert refused.status_code == 400
    client.refresh_from_db()
    assert client.content_provider_url == "https://other.example.com"


def test_importing_reports_what_the_file_says_besides_its_clients(admin) -> None:
    text = (
        "hermod:\n  hideExceptions: true\n  attempts: 1\n  allowedClients:\n"
        "    - clientId: prime\n      contentProviderUrl: https://c.example.com\n"
    )
    upload = SimpleUploadedFile("cod-hermod.yml", text.encode())
    page = admin.post(reverse("portal:clients_import"), {"file": upload}, follow=True)
    shown = page.content.decode()
    assert "From the file: hermod.attempts = 1: applied to prime" in shown
    assert "From the file: hermod.hideExceptions = true" in shown
    client = Client.objects.get(client_id="prime")
    assert (client.callback_attempts, client.content_provider_url) == (1, "https://c.example.com")
