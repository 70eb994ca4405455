"""A phone call ends itself with `end_call` and is handed on with `transfer_call`, through a
local fake of Twilio's REST API: each once the agent's last words have been heard."""

from __future__ import annotations

import asyncio
from typing import Any

from parley.events import ErrorEvent
from parley.testing.fakes.llm import ToolReply
from parley.testing.twilio_caller.fake_caller import Pause, Speak
from parley.types import ToolCall
from tests.serving import serving

from .harness import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioRest, fake_providers, parley_server, speech
from .test_hangup import signed_caller

TOOLS: dict[str, Any] = {"end_call": True, "transfer_targets": {"sales": "+14155550100"},
                         "filler_after_ms": None}  # fmt: skip


async def run_call(replies: list[Any]) -> tuple[Any, Any, FakeTwilioRest, Any]:
    providers = fake_providers(["what time is it in tokyo right now"], replies)
    rest = FakeTwilioRest()
    async with serving(rest.app) as rest_host:
        twilio = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN,
                  "api_base_url": f"http://{rest_host}"}  # fmt: skip
        async with parley_server(providers, twilio=twilio, tools=TOOLS) as site:
            caller = signed_caller(site, rest, [
                Pause(0.3), Speak(speech("question_time")),
                Pause(20.0),  # the agent ends the call long before this
            ])  # fmt: skip
            log = await asyncio.wait_for(caller.run(), 15)
            session = site.sessions[0]
            for _ in range(300):
                if session.closed_at is not None:
                    break
                await asyncio.sleep(0.01)
    return caller, log, rest, (session, site)


async def test_end_call_hangs_up_by_rest_once_the_goodbye_was_heard() -> None:
    end = ToolCall("c1", "end_call", '{"reason": "the caller got their answer"}')
    caller, log, rest, (session, site) = await run_call(
        [ToolReply("", (end,)), "It is nine. Goodbye now."]
    )
    [request] = rest.requests
    assert request.authorized and request.form == {"Status": "completed"}
    assert request.call_sid == caller.call_sid
    assert log.ended_by == "twilio"
    assert session.end_reason == "the caller got their answer"
    # The 5 words (0.25 s each) were all heard before the REST hangup went out.
    heard = caller.playback.heard_seconds(request.at)
    assert heard >= 1.25 - 0.02, f"only {heard:.2f} s of the goodbye was heard"
    assert site.events_of(ErrorEvent) == []


async def test_transfer_call_redirects_the_live_call_with_dial_twiml() -> None:
    transfer = ToolCall("c1", "transfer_call", '{"to": "sales"}')
    caller, log, rest, (session, site) = await run_call(
        [ToolReply("", (transfer,)), "Transferring you to sales."]
    )
    [request] = rest.requests
    assert request.authorized and request.call_sid == caller.call_sid
    assert request.form == {
        "Twiml": "<Response><Dial><Number>+14155550100</Number></Dial></Response>"
    }
    assert caller.playback.heard_seconds(request.at) >= 1.0 - 0.02  # 4 words heard first
    assert log.ended_by == "twilio"  # Twilio left the stream for the <Dial>
    assert session.end_reason == "Twilio stopped the stream"
    history = session.conversation.history
    assert history[-2].content.startswith("The call will be transferred to sales")
    assert site.events_of(ErrorEvent) == []
