"""The container's health check: ``python -m hermod_core.healthcheck [PORT]`` exits 0 when
/healthz answers 200 on this host's port (default 8000, the image's), over HTTPS when the server
serves TLS itself (the certificate is for the public name, not 127.0.0.1, so it is not verified
on this loopback check)."""

import os
import ssl
import sys
import urllib.request

from hermod_core.tls import tls_from_env


def main() -> int:
    port = sys.argv[1] if len(sys.argv) > 1 else "8000"
    context = None
    scheme = "http"
    if tls_from_env(os.environ) is not None:
        scheme = "https"
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    url = f"{scheme}://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4, context=context) as response:  # noqa: S310
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
