"""`hermod-device`: its help documents every command and fault, and its output and exit codes
are what scripts parse (one JSON line per answer; 0 COMPLETED, 1 otherwise, 2 device error)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hermod_core.crypto import jws
from hermod_core.emulator import cli
from hermod_core.emulator.faults import FAULT_HELP, Faults, fault_names
from tests.hermod_core.emulator.messages import NONCE, FakeMailbox, ProvisionCase

SCRIPT = Path(sys.executable).with_name("hermod-device")


def test_the_installed_script_documents_commands_and_faults() -> None:
    done = subprocess.run([SCRIPT, "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    for word in ("enroll", "run", "show", "answer", "com.nexusgroup.plugout", *fault_names()):
        assert word in done.stdout
    assert "IN_REPLY_TO_MISMATCH" in done.stdout


@pytest.mark.parametrize("command", ["enroll", "run", "show", "answer"])
def test_each_subcommand_has_help(command, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    assert exit_.value.code == 0
    assert f"hermod-device {command}" in capsys.readouterr().out


def test_every_fault_flag_is_documented_and_parsed() -> None:
    assert set(FAULT_HELP) == set(fault_names())
    assert Faults.from_names(["wrong-nonce", "hs256"]) == Faults(wrong_nonce=True, hs256=True)
    assert Faults(small_key=True).active == ("small-key",)
    with pytest.raises(ValueError, match="unknown fault"):
        Faults.from_names(["nope"])


def _run(monkeypatch, server: FakeMailbox, argv: list[str]) -> int:
    monkeypatch.setattr(cli, "_session", lambda args: server.session())
    return cli.main(argv)


def test_enroll_prints_one_json_line_and_exits_0_on_completed(
    tmp_path, monkeypatch, capsys
) -> None:
    server = FakeMailbox()
    case = ProvisionCase()
    server.routes[("GET", case.location)] = (200, case.message)
    server.routes[("POST", case.location)] = (200, {"state": "COMPLETED"})
    argv = ["--state", str(tmp_path), "enroll", case.location, "--token", "t"]
    assert _run(monkeypatch, server, argv) == 0
    line = json.loads(capsys.readouterr().out)
    assert line == {"mid": str(case.mid), "commandType": "PROV", "status": 200,
                    "state": "COMPLETED"}  # fmt: skip

    assert cli.main(["show", "--state", str(tmp_path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["profileid"] == str(case.profile_id)
    assert shown["keys"][0]["keyid"] == "signer"
    assert "private_key_pem" not in json.dumps(shown)


def test_options_work_before_and_after_the_subcommand(tmp_path, monkeypatch, capsys) -> None:
    server = FakeMailbox()
    case = ProvisionCase()
    server.routes[("GET", case.location)] = (200, case.message)
    server.routes[("POST", case.location)] = (200, {"state": "FAILED"})
    argv = ["--state", str(tmp_path / "a"), "enroll", "--decline", case.location, "--token", "t"]
    assert _run(monkeypatch, server, argv) == 1
    assert server.posted()[0]["provResponse"] == {"code": 1}
    assert json.loads(capsys.readouterr().out)["state"] == "FAILED"


def test_a_server_error_exits_1_with_its_code(tmp_path, monkeypatch, capsys) -> None:
    server = FakeMailbox()
    case = ProvisionCase()
    server.routes[("GET", case.location)] = (200, case.message)
    error = {"error": {"code": "NONCE_MISMATCH", "message": "wrong nonce"}}
    server.routes[("POST", case.location)] = (422, error)
    argv = ["--state", str(tmp_path), "--fault", "wrong-nonce", "answer", case.location,
            "--token", "t"]  # fmt: skip
    assert _run(monkeypatch, server, argv) == 1
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "NONCE_MISMATCH"
    # The fault given before the subcommand reached the device: it signed another nonce.
    token = server.posted()[0]["provResponse"]["result"]["data"]
    assert jws.parse_compact(token).header["nonce"] != NONCE


def test_a_bad_uri_exits_2(tmp_path, capsys) -> None:
    assert cli.main(["--state", str(tmp_path), "enroll", "mailto:someone"]) == 2
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "BAD_URI"


def test_run_once_with_no_profiles_prints_nothing_and_exits_0(tmp_path, capsys) -> None:
    assert cli.main(["--state", str(tmp_path), "run", "--once"]) == 0
    assert capsys.readouterr().out == ""
