"""manage.py hermod_ca: challenge modes, the verifier credential and the warnings (§10)."""

import io
import re

import pytest
from django.core.management import CommandError, call_command

from hermod_core.models import CaSettings, Group
from hermod_core.selectors.ca import NO_VERIFIER_WARNING, STATIC_CHALLENGE_WARNING
from hermod_core.services.credentials import ca_verifier_hash

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/scep"


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("hermod_ca", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def group() -> Group:
    return Group.objects.create(name="smartid")


def credential_in(out: str) -> str:
    return re.search(r"^verifier: (hcv_\S+)$", out, re.M).group(1)  # type: ignore[union-attr]


def test_a_new_ca_keeps_its_static_password_off_the_templates_by_default(group: Group) -> None:
    out, err = run("set", "smartid", "--url", URL, "--generate-ra", "RA", "--challenge", "pw",
                   "--generate-verifier")  # fmt: skip
    ca = CaSettings.objects.get(group=group)
    assert (ca.challenge_mode, ca.challenge_password) == ("one-time", "pw")
    assert ca.verifier_hash == ca_verifier_hash(credential_in(out))
    assert err == ""


def test_the_static_mode_is_set_explicitly_and_warned_about_on_stderr(group: Group) -> None:
    out, err = run("set", "smartid", "--url", URL, "--generate-ra", "RA", "--challenge", "pw",
                   "--challenge-mode", "static")  # fmt: skip
    assert CaSettings.objects.get(group=group).challenge_mode == "static"
    assert STATIC_CHALLENGE_WARNING in err
    assert "pw" not in out
    _, shown_err = run("show", "smartid")
    assert STATIC_CHALLENGE_WARNING in shown_err


def test_the_static_mode_needs_a_password(group: Group) -> None:
    with pytest.raises(CommandError, match="static mode needs a challenge password"):
        run("set", "smartid", "--url", URL, "--generate-ra", "RA", "--challenge-mode", "static")


def test_the_verifier_is_printed_once_and_replaces_the_previous_one(group: Group) -> None:
    _, err = run("set", "smartid", "--url", URL, "--generate-ra", "RA")
    assert NO_VERIFIER_WARNING in err
    first, _ = run("verifier", "smartid")
    second, err = run("verifier", "smartid")
    ca = CaSettings.objects.get(group=group)
    assert credential_in(first) != credential_in(second)
    assert ca.verifier_hash == ca_verifier_hash(credential_in(second))
    assert err == ""
    shown, _ = run("show", "smartid")
    assert "challenge-mode: one-time" in shown
    assert "verifier: set" in shown
    assert credential_in(second) not in shown
