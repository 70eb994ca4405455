"""Hanging up and transferring a call through Twilio's REST API.

Closing the media stream alone only moves the call past `<Connect>`; updating the call to
`Status=completed` ends it for sure, at once. A 404 with Twilio's code 20404 means the call
is already over (the caller hung up first): that is success too. httpx rather than the
twilio SDK's client: one async request with a timeout, and a base URL that tests can point
at a local fake.

A transfer updates the live call with new TwiML, `<Dial>` to a number or a SIP address:
Twilio leaves the `<Connect><Stream>` (the media stream stops) and dials.
"""

from __future__ import annotations

import logging
import re
from typing import Literal
from xml.sax.saxutils import escape

import httpx
from pydantic import SecretStr

log = logging.getLogger("parley.twilio")

_CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_TARGET = re.compile(r"\+[1-9][0-9]{6,14}|sips?:[^\s<>&\"']{3,200}")
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
        response = await self._update(call_sid, {"Status": "completed"}, "hangup")
        if response.is_success:
            return "completed"
        code, message = _twilio_error(response)
        if response.status_code == 404 and code == CALL_NOT_FOUND:
            return "already ended"
        raise TwilioRestError(
            f"hangup of {call_sid} refused: HTTP {response.status_code}, code {code}: {message}"
        )

    async def transfer(self, call_sid: str, target: str) -> None:
        """Redirect the call to `target` (+E.164 or sip:); raises TwilioRestError if refused."""
        response = await self._update(call_sid, {"Twiml": dial_twiml(target)}, "transfer")
        if not response.is_success:
            code, message = _twilio_error(response)
            raise TwilioRestError(f"transfer of {call_sid} refused: HTTP "
                                  f"{response.status_code}, code {code}: {message}")  # fmt: skip

    async def _update(self, call_sid: str, form: dict[str, str], what: str) -> httpx.Response:
        url = self.call_url(call_sid)
        auth = (self.account_sid, self._auth_token.get_secret_value())
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                return await client.post(url, data=form, auth=auth)
        except httpx.HTTPError as exc:
            raise TwilioRestError(f"{what} of {call_sid} failed: {type(exc).__name__}") from exc


def dial_twiml(target: str) -> str:
    """TwiML that dials `target`: a phone number (+E.164) or a SIP address."""
    if not _TARGET.fullmatch(target):
        raise ValueError("a transfer target is a +E.164 number or a sip: address")
    noun = "Sip" if target.startswith("sip") else "Number"
    return f"<Response><Dial><{noun}>{escape(target)}</{noun}></Dial></Response>"


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
