"""Groups in the console: trusted attestation keys and SCEP CA settings."""

import json
import re

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.urls import reverse
from django.utils.html import escape

from hermod_core.crypto.jwk import jwk_from_public_key, thumbprint
from hermod_core.models import AuditEvent, CaSettings, TrustedAttestationKey
from hermod_core.selectors.ca import NO_VERIFIER_WARNING, STATIC_CHALLENGE_WARNING
from hermod_core.services.ca import ra_identity_pem
from hermod_core.services.credentials import ca_verifier_hash
from tests.hermod_core.scep import factories
from tests.hermod_core.scep.fake_ca import serve_fake_ca


@pytest.fixture(scope="module")
def device_jwk() -> dict:
    key = ec.generate_private_key(ec.SECP256R1())
    return jwk_from_public_key(key.public_key(), kid="attestation")


def test_the_group_list_and_page(
    admin, client_a, client_a2, client_b, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):
        page = admin.get(reverse("portal:groups")).content.decode()
    assert "smartid" in page
    assert "acme" in page
    detail = admin.get(reverse("portal:group", args=["smartid"])).content.decode()
    assert "idm" in detail
    assert "da" in detail


def test_the_group_list_has_a_plain_title_and_one_create_form(admin, db):
    page = admin.get(reverse("portal:groups")).content.decode()
    assert "<title>Groups · Hermod</title>" in page
    assert page.count('id="group-create"') == 1


def test_trusting_a_pasted_jwk_stores_its_public_part_and_thumbprint(admin, client_a, device_jwk):
    response = admin.post(
        reverse("portal:group_key_add", args=["smartid"]),
        {"label": "Fleet phones", "jwk": json.dumps(device_jwk)},
    )
    assert response.status_code == 302
    key = TrustedAttestationKey.objects.get()
    assert key.thumbprint == thumbprint(device_jwk)
    assert key.group.name == "smartid"
    assert "kid" not in key.jwk
    assert AuditEvent.objects.filter(action="group.trust_key", actor_user__isnull=False).exists()
    page = admin.get(reverse("portal:group", args=["smartid"])).content.decode()
    assert key.thumbprint in page


@pytest.mark.parametrize(
    ("jwk_text", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"kty": "oct", "k": "AAAA"}', "private key"),
        ('{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA"}', "private key"),
        ('{"kty": "RSA", "n": "AQAB"}', "Member"),
    ],
)
def test_a_bad_or_private_jwk_is_refused(admin, client_a, jwk_text, message):
    response = admin.post(reverse("portal:group_key_add", args=["smartid"]), {"jwk": jwk_text})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TrustedAttestationKey.objects.exists()


def test_the_same_key_is_not_trusted_twice(admin, client_a, device_jwk):
    url = reverse("portal:group_key_add", args=["smartid"])
    admin.post(url, {"jwk": json.dumps(device_jwk)})
    response = admin.post(url, {"jwk": json.dumps(device_jwk)})
    assert response.status_code == 400
    assert "already trusted" in response.content.decode()
    assert TrustedAttestationKey.objects.count() == 1


def test_removing_a_trusted_key(admin, client_a, client_b, device_jwk):
    admin.post(reverse("portal:group_key_add", args=["smartid"]), {"jwk": json.dumps(device_jwk)})
    key = TrustedAttestationKey.objects.get()
    # Another group's URL does not reach it.
    assert admin.post(reverse("portal:group_key_remove", args=["acme", key.pk])).status_code == 404
    admin.post(reverse("portal:group_key_remove", args=["smartid", key.pk]))
    assert not TrustedAttestationKey.objects.exists()
    assert AuditEvent.objects.filter(action="group.untrust_key").exists()


def test_ca_settings_are_saved_without_showing_secrets_back(admin, client_a):
    url = reverse("portal:group_ca_save", args=["smartid"])
    response = admin.post(
        url,
        {
            "scep_url": "http://ca.example.com/scep",
            "enabled": "on",
            "challenge_password": "hunter2",
        },
    )
    assert response.status_code == 302
    ca = CaSettings.objects.get()
    assert (ca.scep_url, ca.challenge_password, ca.enabled, ca.auto_certify) == (
        "http://ca.example.com/scep",
        "hunter2",
        True,
        False,
    )
    admin.post(url, {"scep_url": "http://ca2.example.com/scep", "auto_certify": "on"})
    ca.refresh_from_db()
    assert (ca.scep_url, ca.challenge_password, ca.auto_certify) == (
        "http://ca2.example.com/scep",
        "hunter2",
        True,
    )
    page = admin.get(reverse("portal:group", args=["smartid"])).content.decode()
    assert "hunter2" not in page
    assert AuditEvent.objects.filter(action="group.ca_settings").count() == 2


def test_ca_settings_refuse_an_unusable_ra_identity(admin, client_a):
    key_pem, _ = ra_identity_pem("one")
    _, other_cert = ra_identity_pem("two")
    response = admin.post(
        reverse("portal:group_ca_save", args=["smartid"]),
        {
            "scep_url": "http://ca.example.com/scep",
            "ra_key_pem": key_pem,
            "ra_certificate_pem": other_cert,
        },
    )
    assert response.status_code == 400
    assert not CaSettings.objects.exists()


def test_generating_an_ra_identity(admin, client_a):
    url = reverse("portal:group_ca_ra", args=["smartid"])
    admin.post(url, {"common_name": "RA"})
    assert not CaSettings.objects.exists()  # the URL comes first
    admin.post(reverse("portal:group_ca_save", args=["smartid"]), {"scep_url": "http://ca/scep"})
    admin.post(url, {"common_name": "Hermod RA test"})
    ca = CaSettings.objects.get()
    assert "BEGIN PRIVATE KEY" in ca.ra_key_pem
    assert "BEGIN CERTIFICATE" in ca.ra_certificate_pem
    page = admin.get(reverse("portal:group", args=["smartid"])).content.decode()
    assert "BEGIN CERTIFICATE" in page
    assert "BEGIN PRIVATE KEY" not in page


def test_testing_the_ca_connection_asks_for_its_capabilities(admin, client_a):
    ca_key, ca_cert = factories.ca_identity("Console test CA")
    key_pem, cert_pem = ra_identity_pem("Hermod RA")
    with serve_fake_ca(ca_key, ca_cert) as fake:
        admin.post(
            reverse("portal:group_ca_save", args=["smartid"]),
            {"scep_url": fake.url, "ra_key_pem": key_pem, "ra_certificate_pem": cert_pem},
        )
        response = admin.post(
            reverse("portal:group_ca_test", args=["smartid"]), HTTP_HX_REQUEST="true"
        )
    page = response.content.decode()
    assert "The CA answered GetCACaps" in page
    assert "POSTPKIOperation" in page
    event = AuditEvent.objects.get(action="group.ca_test")
    assert event.details["ok"] is True


def test_a_ca_that_does_not_answer_is_reported_not_raised(admin, client_a):
    key_pem, cert_pem = ra_identity_pem("Hermod RA")
    admin.post(
        reverse("portal:group_ca_save", args=["smartid"]),
        {
            "scep_url": "http://127.0.0.1:9/scep",
            "ra_key_pem": key_pem,
            "ra_certificate_pem": cert_pem,
        },
    )
    response = admin.post(reverse("portal:group_ca_test", args=["smartid"]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "The CA test failed" in response.content.decode()
    assert AuditEvent.objects.get(action="group.ca_test").details["ok"] is False


def test_an_unknown_group_is_404(admin, db):
    assert admin.get(reverse("portal:group", args=["nope"])).status_code == 404


def test_the_static_challenge_mode_is_chosen_explicitly_and_warned_about(admin, client_a):
    url = reverse("portal:group_ca_save", args=["smartid"])
    settings = {"scep_url": "http://ca.example.com/scep", "enabled": "on"}
    admin.post(url, {**settings, "challenge_password": "hunter2"})
    ca = CaSettings.objects.get()
    assert ca.challenge_mode == "one-time"
    page = admin.get(reverse("portal:group", args=["smartid"])).content.decode()
    assert escape(STATIC_CHALLENGE_WARNING) not in page
    assert escape(NO_VERIFIER_WARNING) in page

    admin.post(url, {**settings, "challenge_mode": "static"})
    ca.refresh_from_db()
    assert ca.challenge_mode == "static"
    page = admin.get(reverse("portal:group", args=["smartid"])).content.decode()
    assert escape(STATIC_CHALLENGE_WARNING) in page
    assert "hunter2" not in page


def test_a_static_mode_without_a_password_is_refused(admin, client_a):
    url = reverse("portal:group_ca_save", args=["smartid"])
    response = admin.post(
        url, {"scep_url": "http://ca.example.com/scep", "challenge_mode": "static"}
    )
    assert response.status_code == 400
    assert "static mode needs a challenge password" in response.content.decode()


def test_the_verifier_credential_is_shown_once_and_only_its_hash_kept(admin, client_a):
    admin.post(
        reverse("portal:group_ca_save", args=["smartid"]),
        {"scep_url": "http://ca.example.com/scep", "enabled": "on"},
    )
    posted = admin.post(reverse("portal:group_ca_verifier", args=["smartid"]))
    # POST → redirect → GET: a reload of the page does not generate another credential.
    assert posted.status_code == 302
    response = admin.get(posted["Location"])
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    credential = re.search(r'id="ca-verifier">(hcv_[^<]+)<', response.content.decode()).group(1)
    ca = CaSettings.objects.get()
    assert ca.verifier_hash == ca_verifier_hash(credential)
    page = admin.get(reverse("portal:group", args=["smartid"])).content.decode()
    assert credential not in page
    assert escape(NO_VERIFIER_WARNING) not in page
    assert AuditEvent.objects.filter(action="group.ca_verifier").count() == 1


def test_an_operator_cannot_generate_a_verifier_credential(operator, client_a):
    response = operator.post(reverse("portal:group_ca_verifier", args=["smartid"]))
    assert response.status_code == 403
