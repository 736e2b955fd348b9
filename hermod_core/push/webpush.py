"""Web Push (RFC 8030) with message encryption (RFC 8291) and VAPID (RFC 8292): the open
standard, also spoken by UnifiedPush distributors, that needs no vendor account.

The notice is encrypted to the subscription's ``p256dh`` key and ``auth`` secret
(``aes128gcm``) by ``pywebpush``; the push service sees only ciphertext and the VAPID identity.
"""

import base64
import json

import requests
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pywebpush import WebPushException, webpush

from hermod_core.http_sessions import thread_session
from hermod_core.push.base import PushNotice, PushOutcome, PushResult, PushTarget
from hermod_core.push.classify import WEBPUSH_GONE, classify_status, network_failure


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def vapid_keys_generate() -> tuple[str, str]:
    """A new VAPID key pair: (private scalar, public uncompressed point), both base64url.

    The public half is the ``applicationServerKey`` a browser or distributor subscribes with.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return _b64url(private), _b64url(public)


def _session(verify: str | bool) -> requests.Session:
    session = thread_session("webpush")
    session.verify = verify
    return session


class WebPushProvider:
    def __init__(
        self,
        vapid_private_key: str,
        *,
        subject: str,
        verify: str | bool = True,
        timeout: float = 10.0,
        ttl: int = 300,
    ) -> None:
        self.vapid_private_key = vapid_private_key
        self.subject = subject
        self.verify = verify
        self.timeout = timeout
        self.ttl = ttl

    def send(self, target: PushTarget, notice: PushNotice) -> PushResult:
        try:
            subscription = json.loads(target.token)
        except ValueError:
            return PushResult(PushOutcome.UNREGISTERED, "the registered subscription is unreadable")
        headers = {
            # An authentication request is worth waking a sleeping phone for (RFC 8030 §5.3).
            "Urgency": "high",
            # A retried notice replaces one the push service still holds (RFC 8030 §5.4): at most
            # one notice per message waits for the device (hex is within the base64url alphabet).
            "Topic": notice.message_id.replace("-", "")[:32],
        }
        try:
            response = webpush(
                subscription_info=subscription,
                data=json.dumps(notice.as_relay_body(), separators=(",", ":")),
                vapid_private_key=self.vapid_private_key,
                vapid_claims={"sub": self.subject},
                timeout=self.timeout,
                ttl=self.ttl,
                headers=headers,
                requests_session=_session(self.verify),
            )
        except WebPushException as exc:
            if exc.response is None:
                return network_failure(exc)
            return classify_status(
                exc.response.status_code, exc.response.reason or "", gone=WEBPUSH_GONE
            )
        except requests.RequestException as exc:
            return network_failure(exc)
        except (KeyError, TypeError, ValueError) as exc:
            # A subscription whose keys do not decode cannot be written to: as good as gone.
            return PushResult(PushOutcome.UNREGISTERED, f"bad subscription: {exc}"[:300])
        assert not isinstance(response, str)
        return classify_status(response.status_code, response.reason or "", gone=WEBPUSH_GONE)
