"""`hermod-scep-verify`: the CSR verifier for micromdm's `scepserver -csrverifierexec` (§10).

How scepserver 2.1.0 runs it (micromdm/scep `csrverifier/executable`, and seen on the wire): with
no arguments and scepserver's own environment, the decrypted PKCS#10 request as raw DER on
stdin, once per PKCSReq before it signs; exit status 0 means issue, anything else means refuse
(the CA answers FAILURE/badRequest). Its stdout and stderr are discarded and there is no time
limit, so this program bounds its own time.

It reads the challengePassword the request carries — a one-time challenge from a Hermod CSR
template — and asks Hermod (`POST <HERMOD_CA_VERIFY_URL>` with the CSR, authenticated by the
group's CA verifier credential), which accepts only a live challenge of that group for the key
the device proved, and consumes it. Exit 0 only when Hermod answered ACCEPTED.

Environment (set on the scepserver process; `_FILE` variants hold the value in a file):
  HERMOD_CA_VERIFY_URL          e.g. https://hermod.example.com/hermod/rest/ca/challenge/verify
  HERMOD_CA_VERIFIER_CREDENTIAL the group's verifier credential (`manage.py hermod_ca verifier`)
  HERMOD_CA_VERIFY_TIMEOUT      seconds for the whole check, default 10
Exit status: 0 accepted, 1 refused (or no challenge in the CSR), 2 not configured or Hermod
unreachable / answering an error. Standard input may also be PEM or base64 DER, for hand use.
"""

from __future__ import annotations

import base64
import binascii
import sys
import time
from typing import IO, Any, Final

import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from hermod_core.env import EnvError, env_http_url, env_int, env_str
from hermod_core.scep.csr import challenge_password

EXIT_ACCEPTED: Final = 0
EXIT_REFUSED: Final = 1
EXIT_ERROR: Final = 2
MAX_CSR_BYTES: Final = 64 * 1024
_PEM_MARK: Final = b"-----BEGIN"


class VerifyError(Exception):
    """The check could not be made; ``status`` is the exit status to leave with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def read_csr(stream: IO[bytes]) -> x509.CertificateSigningRequest:
    """The request on ``stream``: raw DER (what scepserver writes), PEM or base64 DER."""
    data = stream.read(MAX_CSR_BYTES + 1)
    if len(data) > MAX_CSR_BYTES:
        raise VerifyError(EXIT_REFUSED, "the CSR is too large")
    try:
        if data.lstrip().startswith(_PEM_MARK):
            return x509.load_pem_x509_csr(data)
        if data[:1] != b"\x30":  # not a DER SEQUENCE: try base64 text
            data = base64.b64decode(b"".join(data.split()), validate=True)
        return x509.load_der_x509_csr(data)
    except (ValueError, binascii.Error):
        raise VerifyError(EXIT_REFUSED, "standard input is not a PKCS#10 request") from None


def verify(
    csr: x509.CertificateSigningRequest,
    *,
    url: str,
    credential: str,
    timeout: float,
    session: requests.Session | None = None,
) -> dict[str, str]:
    """Ask Hermod about ``csr``; returns its ACCEPTED body or raises ``VerifyError``.

    A connection failure or a 5xx is retried once (within ``timeout``): a restart of Hermod
    must not turn into a refused enrolment, and the check is idempotent for the same CSR.
    """
    challenge = challenge_password(csr)
    if not challenge:
        raise VerifyError(EXIT_REFUSED, "the CSR carries no challengePassword")
    body = {
        "csr": base64.b64encode(csr.public_bytes(Encoding.DER)).decode("ascii"),
        "challenge": challenge,
    }
    http = session or requests.Session()
    deadline = time.monotonic() + timeout
    problem = "no attempt"
    for attempt in range(2):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            response = http.post(
                url,
                json=body,
                headers={"Authorization": f"Bearer {credential}"},
                timeout=remaining,
            )
        except requests.RequestException as exc:
            problem = f"Hermod unreachable: {type(exc).__name__}"
        else:
            if response.status_code == 200 and _json(response).get("state") == "ACCEPTED":
                return _json(response)
            code = _json(response).get("error", {}).get("code", "")
            if response.status_code in (400, 403):
                raise VerifyError(
                    EXIT_REFUSED, f"refused by Hermod: {code or response.status_code}"
                )
            problem = f"Hermod answered {response.status_code} {code}".strip()
            if response.status_code < 500:
                break
        if attempt == 0:
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    raise VerifyError(EXIT_ERROR, problem)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] in {"-h", "--help"}:
        sys.stdout.write(__doc__ or "")
        return EXIT_ACCEPTED
    try:
        url = env_http_url("HERMOD_CA_VERIFY_URL", "")
        credential = env_str("HERMOD_CA_VERIFIER_CREDENTIAL", "")
        if not credential:
            raise EnvError("HERMOD_CA_VERIFIER_CREDENTIAL", "not set")
        timeout = env_int("HERMOD_CA_VERIFY_TIMEOUT", 10, minimum=1, maximum=300)
        csr = read_csr(sys.stdin.buffer)
        accepted = verify(csr, url=url, credential=credential, timeout=timeout)
    except EnvError as exc:
        sys.stderr.write(f"hermod-scep-verify: {exc}\n")
        return EXIT_ERROR
    except VerifyError as exc:
        sys.stderr.write(f"hermod-scep-verify: {exc}\n")
        return exc.status
    sys.stderr.write(
        f"hermod-scep-verify: accepted (command {accepted.get('commandId')}, "
        f"key {accepted.get('keyid')})\n"
    )
    return EXIT_ACCEPTED


if __name__ == "__main__":
    raise SystemExit(main())
