"""Configuration files of the real product load without surprises (docs/PROTOCOL.md §9), against the
running stack: the generateclient snippet imports as it is, a seed-004-style file's per-client
retry policy drives real callback retries, and what cannot be applied is reported."""

import base64
import re
import time
from pathlib import Path

import pytest
import requests

from tests.api_client import Api
from tests.e2e.receiver import Receiver
from tests.seeds import provisioning_command
from tests.stack import Hermod

pytestmark = pytest.mark.services


def test_the_generateclient_snippet_without_the_prefix_imports_as_it_is_and_its_key_works(
    stack: Hermod, tmp_path: Path
) -> None:
    response = requests.get(f"{stack.url}/util/generateclient/pasted", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    snippet = response.text
    assert snippet.startswith("# X-Api-Key: ")
    prefixed = requests.get(f"{stack.url}/hermod/rest/util/generateclient/pasted", timeout=5)
    assert prefixed.text.splitlines()[1:] != snippet.splitlines()[1:]  # a new key each time
    (tmp_path / "snippet.yml").write_text(snippet)
    out = stack.manage("import_clients", str(tmp_path / "snippet.yml"))
    assert out.startswith("created 1: pasted;")
    api_key = re.match(r"# X-Api-Key: (\S+)", snippet).group(1)  # type: ignore[union-attr]
    created = Api(stack.url, api_key).create("provision", provisioning_command())
    assert created["state"] == "IN_PROGRESS"


SEED_004_STYLE = """\
hermod:
  log: false
  # Hide exception information to clients
  hideExceptions: true
  public-url: https://hermod.example.com:20400/hermod/rest/ms
  # Command callback retries
  attempts: 1
  retryDelay: 30
  allowedClients:
    - clientId: {client}
      key: 59c2a0a1999d42dbbe7f16ef1072736a031c5f4739c04025a641ae1751849857
      group: acme
      callbackUrl: {callback}
      callbackBasicAuth: primeuser:primeuserpw
      attempts: 2
      retryDelay: 1
      contentProviderUrl: https://content.example.com/api
      contentProviderBasicAuth: content:s3cret
server:
  ssl:
    enabled: true
    key-store: /home/docker/certificates/smartidtls.p12
    key-store-password: "do-not-echo-me"
"""


def test_a_real_product_file_applies_per_client_retries_and_reports_the_rest(
    stack: Hermod, tmp_path: Path
) -> None:
    receiver = Receiver(basic_auth="primeuser:primeuserpw").start()
    try:
        client_id = f"prime-{int(time.time() * 1000)}"
        path = tmp_path / "cod-hermod.yml"
        path.write_text(SEED_004_STYLE.format(client=client_id, callback=receiver.url))
        out = stack.manage("import_clients", str(path))
        assert out.splitlines()[0] == f"created 1: {client_id}; updated 0: -"
        notes = [line for line in out.splitlines() if line.startswith("note: ")]
        assert "note: hermod.log: ignored (not used by this server)" in notes
        assert any(
            n.startswith("note: hermod.hideExceptions = true: as this server") for n in notes
        )
        assert any("hermod.public-url = https://hermod.example.com:20400" in n for n in notes)
        assert any("not applied; this server's public URL is HERMOD_PUBLIC_URL" in n for n in notes)
        assert "note: hermod.attempts = 1: applied to no client (each sets its own)" in notes
        assert any("server.ssl.key-store: ignored (serve TLS with HERMOD_TLS_P12_FILE" in n
                   for n in notes)  # fmt: skip
        assert "do-not-echo-me" not in out
        assert "s3cret" not in out
        exported = stack.manage("export_clients")
        entry = exported.split(f"- client-id: {client_id}\n", 1)[1]
        assert "    attempts: 2\n    retry-delay: 1\n" in entry
        assert "    content-provider-url: https://content.example.com/api\n" in entry

        # The client's own policy (2 attempts, 1 s apart) against a receiver that always fails.
        receiver.fail_next = 100
        key = "59c2a0a1999d42dbbe7f16ef1072736a031c5f4739c04025a641ae1751849857"
        api = Api(stack.url, _header(client_id, key))
        created = api.create("provision", provisioning_command())
        api.create(f"cancel/{created['commandId']}")
        deadline = time.time() + 20
        while len(receiver.attempts) < 2 and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(4)  # a third attempt would come within 2 s (1 s doubled)
        assert len(receiver.attempts) == 2
        assert receiver.problems == []
    finally:
        receiver.stop()


def _header(client_id: str, key: str) -> str:
    return base64.b64encode(f"{client_id}:{key}".encode()).decode()
