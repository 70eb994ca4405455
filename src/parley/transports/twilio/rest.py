"""Hanging up a call through Twilio's REST API.

Closing the media stream alone only moves the call past `<Connect>`; updating the call to
`Status=completed` ends it for sure, at once. A 404 with Twilio's code 20404 means the call
is already over (the caller hung up first): that is success too. httpx rather than the
twilio SDK's client: one async request with a timeout, and a base URL that tests can point
at a local fake.
"""

from __future__ import annotations

import logging
import re
from typing import Literal

import httpx
from pydantic import SecretStr

log = logging.getLogger("parley.twilio")

_CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
CALL_NOT_FOUND = 20404

HangupOutcome = Literal["completed", "already ended"]


class TwilioRestError(RuntimeError):
    """The REST API refused or failed; the message names the HTTP status and Twilio code."""


class TwilioRest:
    def __init__(
        self,
        account_sid: str,
        auth_token: SecretStr,
        *,
        base_url: str = "https://api.twilio.com",
        timeout: float = 1.5,
    ) -> None:
        if not _ACCOUNT_SID.fullmatch(account_sid):
            raise ValueError("a Twilio Account SID is AC followed by 32 hex digits")
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def call_url(self, call_sid: str) -> str:
        if not _CALL_SID.fullmatch(call_sid):
            raise ValueError(f"not a Twilio Call SID: {call_sid[:40]!r}")
        return f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Calls/{call_sid}.json"

    async def hang_up(self, call_sid: str) -> HangupOutcome:
        """End the call now; raises TwilioRestError if Twilio says no."""
        url = self.call_url(call_sid)
        auth = (self.account_sid, self._auth_token.get_secret_value())
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(url, data={"Status": "completed"}, auth=auth)
        except httpx.HTTPError as exc:
            raise TwilioRestError(f"hangup of {call_sid} failed: {type(exc).__name__}") from exc
        if response.is_success:
            return "completed"
        code, message = _twilio_error(response)
        if response.status_code == 404 and code == CALL_NOT_FOUND:
            return "already ended"
        raise TwilioRestError(
            f"hangup of {call_sid} refused: HTTP {response.status_code}, code {code}: {message}"
        )


def _twilio_error(response: httpx.Response) -> tuple[int | None, str]:
    """Twilio's error body is JSON with `code` and `message`; anything else is shown short."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200]
    if not isinstance(body, dict):
        return None, str(body)[:200]
    code = body.get("code")
    return (code if isinstance(code, int) else None), str(body.get("message", ""))[:200]
