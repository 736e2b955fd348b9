"""The real product's push shape: POST the notice to the group's notification server.

The notification server (a Nexus-style relay the customer runs) knows each app's ``pushId`` and
OS token from the app itself; Hermod tells it only which profile has which message waiting
(``{"messageId", "pushId", "requestor", "type"}``), with basic auth or a bearer token.
"""

import base64

import requests

from hermod_core.http_sessions import thread_session
from hermod_core.push.base import PushNotice, PushResult, PushTarget
from hermod_core.push.classify import RELAY_GONE, classify_status, network_failure


class RelayProvider:
    def __init__(
        self,
        url: str,
        *,
        basic_auth: str = "",
        bearer: str = "",
        verify: str | bool = True,
        timeout: float = 10.0,
        user_agent: str = "Hermod",
    ) -> None:
        self.url = url
        self.headers = {"Content-Type": "application/json", "User-Agent": user_agent}
        if basic_auth:
            token = base64.b64encode(basic_auth.encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {token}"
        elif bearer:
            self.headers["Authorization"] = f"Bearer {bearer}"
        self.verify = verify
        self.timeout = timeout

    def send(self, target: PushTarget, notice: PushNotice) -> PushResult:
        """One POST; the relay needs no target (it maps ``pushId`` itself), so ``target`` is
        only what the device registered, if anything."""
        try:
            response = thread_session("push-relay").post(
                self.url,
                json=notice.as_relay_body(),
                headers=self.headers,
                timeout=self.timeout,
                verify=self.verify,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return network_failure(exc)
        return classify_status(response.status_code, response.reason or "", gone=RELAY_GONE)
