"""Serving TLS itself (hermod_core.tls): what the environment may say, and what stops start-up."""

import ssl
from pathlib import Path

import pytest

from hermod_core.env import EnvError
from hermod_core.tls import server_context, tls_from_env
from tests.tls_ca import TlsFiles, make_tls_files


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def test_nothing_set_means_plain_http() -> None:
    assert tls_from_env({}) is None


def test_pem_files_give_a_tls_1_2_context(tls: TlsFiles) -> None:
    files = tls_from_env(
        {"HERMOD_TLS_CERT_FILE": str(tls.cert_pem), "HERMOD_TLS_KEY_FILE": str(tls.key_pem)}
    )
    assert files is not None
    assert files.main_file == tls.cert_pem
    assert server_context(files).minimum_version == ssl.TLSVersion.TLSv1_2


def test_the_p12_key_store_loads_with_its_password_from_a_file(
    tls: TlsFiles, tmp_path: Path
) -> None:
    (tmp_path / "password").write_text(tls.p12_password + "\n")
    files = tls_from_env(
        {
            "HERMOD_TLS_P12_FILE": str(tls.p12),
            "HERMOD_TLS_P12_PASSWORD_FILE": str(tmp_path / "password"),
        }
    )
    assert files is not None
    assert isinstance(server_context(files), ssl.SSLContext)


@pytest.mark.parametrize(
    ("environ", "variable", "problem"),
    [
        ({"HERMOD_TLS_CERT_FILE": "{cert}"}, "HERMOD_TLS_KEY_FILE", "set together"),
        ({"HERMOD_TLS_KEY_FILE": "{key}"}, "HERMOD_TLS_CERT_FILE", "set together"),
        ({"HERMOD_TLS_CERT_FILE": "/nonexistent.pem"}, "HERMOD_TLS_CERT_FILE", "cannot read"),
        (
            {"HERMOD_TLS_P12_FILE": "{p12}", "HERMOD_TLS_CERT_FILE": "{cert}"},
            "HERMOD_TLS_P12_FILE",
            "not both",
        ),
    ],
)
def test_an_incomplete_or_ambiguous_environment_names_the_variable(
    tls: TlsFiles, environ: dict[str, str], variable: str, problem: str
) -> None:
    paths = {"cert": tls.cert_pem, "key": tls.key_pem, "p12": tls.p12}
    filled = {name: value.format(**paths) for name, value in environ.items()}
    with pytest.raises(EnvError, match=problem) as raised:
        tls_from_env(filled)
    assert raised.value.name == variable


def test_a_wrong_p12_password_or_a_key_of_another_certificate_stops_start_up(
    tls: TlsFiles, tmp_path: Path
) -> None:
    wrong = tls_from_env({"HERMOD_TLS_P12_FILE": str(tls.p12), "HERMOD_TLS_P12_PASSWORD": "no"})
    assert wrong is not None
    with pytest.raises(EnvError, match="wrong password"):
        server_context(wrong)
    other = make_tls_files(tmp_path / "other")
    mismatched = tls_from_env(
        {"HERMOD_TLS_CERT_FILE": str(tls.cert_pem), "HERMOD_TLS_KEY_FILE": str(other.key_pem)}
    )
    assert mismatched is not None
    with pytest.raises(EnvError, match="do not load") as raised:
        server_context(mismatched)
    assert raised.value.name == "HERMOD_TLS_KEY_FILE"
