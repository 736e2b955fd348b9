"""The group CA's enrolment secret never reaches a device (docs/PROTOCOL.md §10, issue 10).

Written from the attacker's side first: whoever opens a provisioning QR code reads the message
the device fetches. It must not teach them the CA's password.
"""

import json
import re
from typing import Any

import pytest

from hermod_core.models import CaChallenge, CaSettings, Command
from hermod_core.selectors.ca import (
    NO_VERIFIER_WARNING,
    STATIC_CHALLENGE_WARNING,
    ca_challenge_warnings,
)
from hermod_core.services.audit import Actor
from hermod_core.services.ca import ca_ra_identity_generate
from hermod_core.services.ca_challenges import CA_STEP_GRACE, ca_verifier_rotate
from hermod_core.services.credentials import ca_challenge_hash
from hermod_core.services.errors import ServiceError
from tests.factories import (
    STATIC_PASSWORD,
    Persona,
    assert_no_secret,
    ca_for,
    provision,
    template_challenge,
    two_key_provisioning,
)
from tests.seeds import provisioning_command

pytestmark = pytest.mark.django_db


def test_a_provisioning_message_carries_no_ca_secret_and_one_challenge_per_template(
    client: Any, client_a: Persona
) -> None:
    ca_for(client_a)  # a static password is configured; the CA is in the default mode

    provisioning = provision(client, client_a, two_key_provisioning())

    stored = Command.objects.get(pk=provisioning.command_id)
    assert_no_secret(provisioning.message, STATIC_PASSWORD)
    assert_no_secret(stored.body, STATIC_PASSWORD)
    challenges = {keyid: template_challenge(t) for keyid, t in provisioning.templates().items()}
    assert set(challenges) == {"signer", "authenticator"}
    assert len(set(challenges.values())) == 2
    for challenge in challenges.values():
        assert re.fullmatch(r"[0-9a-f]{40}", challenge)  # 160 random bits
    stored_templates = {r["keyid"]: r["certreq"] for r in stored.body["profile"]["keygenrequests"]}
    assert stored_templates == provisioning.templates()


def test_only_the_keyed_hash_of_a_challenge_is_recorded(client: Any, client_a: Persona) -> None:
    ca_for(client_a)
    provisioning = provision(client, client_a, two_key_provisioning())

    rows = {
        row.keyid: row for row in CaChallenge.objects.filter(command_id=provisioning.command_id)
    }
    assert set(rows) == {"signer", "authenticator"}
    for keyid, row in rows.items():
        challenge = provisioning.challenge(keyid)
        assert row.challenge_hash == ca_challenge_hash(challenge) != challenge
        assert challenge not in json.dumps(
            [row.challenge_hash, row.keyid, row.bound_key_thumbprint]
        )
        assert (row.consumed_at, row.group_id) == (None, client_a.client.group_id)
        assert row.expires_at == row.command.expires_at + CA_STEP_GRACE


def test_two_provisionings_never_share_a_challenge(client: Any, client_a: Persona) -> None:
    ca_for(client_a)
    first, second = provision(client, client_a), provision(client, client_a)
    assert first.challenge() != second.challenge()


def test_the_static_password_reaches_templates_only_as_an_explicit_warned_opt_in(
    client: Any, client_a: Persona
) -> None:
    ca_for(client_a, mode="static")

    provisioning = provision(client, client_a)

    assert provisioning.challenge() == STATIC_PASSWORD
    assert not CaChallenge.objects.exists()
    ca = CaSettings.objects.get(group_id=client_a.client.group_id)
    assert STATIC_CHALLENGE_WARNING in ca_challenge_warnings(ca)


def test_without_a_challenge_mode_templates_are_sent_as_the_client_wrote_them(
    client: Any, client_a: Persona
) -> None:
    ca_for(client_a, mode="none")
    provisioning = provision(client, client_a)

    sent = provisioning_command()["provCommand"]["profile"]["keygenrequests"][0]["certreq"]
    assert provisioning.templates()["signer"] == sent
    assert not CaChallenge.objects.exists()


def test_a_one_time_ca_without_a_verifier_credential_is_warned_about(client_a: Persona) -> None:
    ca_for(client_a)
    ca = CaSettings.objects.get(group_id=client_a.client.group_id)
    assert ca_challenge_warnings(ca) == []
    CaSettings.objects.filter(pk=ca.pk).update(verifier_hash="")
    ca.refresh_from_db()
    assert ca_challenge_warnings(ca) == [NO_VERIFIER_WARNING]


def test_a_group_without_ca_settings_is_told_to_save_the_scep_url_first(
    client_a: Persona,
) -> None:
    group, actor = client_a.client.group, Actor.system("test")
    with pytest.raises(ServiceError) as verifier:
        ca_verifier_rotate(group=group, actor=actor)
    with pytest.raises(ServiceError) as ra_identity:
        ca_ra_identity_generate(group=group, actor=actor, common_name="")
    assert str(verifier.value) == str(ra_identity.value) == "Save the CA's SCEP URL first."
    assert not CaSettings.objects.filter(group=group).exists()
