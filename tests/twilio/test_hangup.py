"""Ending calls: the agent hangs up by REST; Twilio's `stop` closes the session in time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from parley.server.routes.twilio import twilio_calls
from parley.session import Providers
from parley.testing.twilio_caller.fake_caller import (
    CallerStep,
    FakeCaller,
    HangUp,
    Pause,
    Speak,
    WaitFor,
    agent_finished,
    agent_heard,
)
from parley.transports.twilio.rest import TwilioRest, TwilioRestError
from tests.conftest import Measure
from tests.serving import serving

from .harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CallSite,
    FakeTwilioRest,
    fake_providers,
    parley_server,
    speech,
)


def session_tasks(name: str) -> list[str]:
    """Tasks of a session still alive anywhere in the loop (supervisor tasks carry its id)."""
    return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith(f"{name}:")]


@contextlib.asynccontextmanager
async def with_rest_api(providers: Providers) -> AsyncIterator[tuple[CallSite, FakeTwilioRest]]:
    """A parley server whose calls end through a local fake of Twilio's REST API."""
    rest = FakeTwilioRest()
    async with serving(rest.app) as rest_host:
        twilio = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN,
                  "api_base_url": f"http://{rest_host}"}  # fmt: skip
        async with parley_server(providers, twilio=twilio) as site:
            yield site, rest


def signed_caller(site: CallSite, rest: FakeTwilioRest, script: list[CallerStep]) -> FakeCaller:
    """A caller whose stream carries the webhook's token, known to the fake REST API."""
    caller = site.caller(script, custom_parameters={})
    caller.sign(SecretStr(AUTH_TOKEN))
    rest.add(caller)
    return caller


async def test_the_agent_hangs_up_through_the_rest_api(measured: Measure) -> None:
    providers = fake_providers(["what time is it in tokyo right now"], ["Nine in the evening."])
    async with with_rest_api(providers) as (site, rest):
        caller = signed_caller(site, rest, [
            Pause(0.3),
            Speak(speech("question_time")),
            WaitFor(agent_finished(0.3), what="the answer"),
            Pause(20.0),  # the agent ends the call long before this
            HangUp(),
        ])  # fmt: skip
        call = asyncio.create_task(caller.run())
        loop = asyncio.get_running_loop()
        while not (caller.log.media_received and caller.playback.idle_since(loop.time()) > 0.3):
            await asyncio.sleep(0.05)
            assert not call.done(), "the call ended before the agent answered"
        hung_up_at = loop.time()
        assert twilio_calls(site.app).hang_up(caller.call_sid, "the agent said goodbye")
        log = await asyncio.wait_for(call, 5)
        session = site.sessions[0]
        for _ in range(300):
            if session.closed_at is not None:
                break
            await asyncio.sleep(0.01)

    [request] = rest.requests
    assert request.authorized and request.form == {"Status": "completed"}
    assert (request.account_sid, request.call_sid) == (ACCOUNT_SID, caller.call_sid)
    assert log.ended_by == "twilio"  # the fake REST API ended the stream, like Twilio
    assert session.end_reason == "the agent said goodbye"
    assert session.closed_at is not None and session.closed_at - hung_up_at < 1.0
    assert session.supervisor.tasks == [] and session_tasks(session.id) == []
    assert len(twilio_calls(site.app)) == 0
    measured("agent hangup: request to session closed", (session.closed_at - hung_up_at) * 1000,
             "ms")  # fmt: skip


async def test_hanging_up_mid_answer_clears_what_the_caller_still_has_queued() -> None:
    """The REST hangup takes time while Twilio plays on: the `clear` must go out first."""
    story = " ".join(f"word{i}" for i in range(40))
    providers = fake_providers(["tell me a story"], [story])
    async with with_rest_api(providers) as (site, rest):
        caller = signed_caller(site, rest, [
            Pause(0.3),
            Speak(speech("question_story")),
            WaitFor(agent_heard(1.0), what="the story"),
            Pause(20.0),  # the agent ends the call long before this
            HangUp(),
        ])  # fmt: skip
        call = asyncio.create_task(caller.run())
        loop = asyncio.get_running_loop()
        while caller.playback.heard_seconds(loop.time()) < 1.0:
            await asyncio.sleep(0.02)
            assert not call.done(), "the call ended before the agent spoke"
        hung_up_at = loop.time()
        assert twilio_calls(site.app).hang_up(caller.call_sid, "the agent said goodbye")
        log = await asyncio.wait_for(call, 5)
    clears = [t for t in log.clears_received if t >= hung_up_at]
    assert clears, "the caller kept the agent's queued audio after the hangup"
    assert clears[0] - hung_up_at < 0.1
    end = log.closed_at or loop.time()
    heard_after = caller.playback.heard_seconds(end, since=clears[0])
    assert heard_after == 0.0, f"{heard_after * 1000:.0f} ms heard after the clear"


async def test_twilio_stop_closes_the_session_within_its_deadline() -> None:
    story = " ".join(f"word{i}" for i in range(40))
    providers = fake_providers(["tell me a story"], [story])
    async with with_rest_api(providers) as (site, rest):
        caller = signed_caller(
            site, rest, [Pause(0.3), Speak(speech("question_story")), Pause(2.0), HangUp()]
        )
        log = await asyncio.wait_for(caller.run(), 15)
        assert log.media_received, "the agent was speaking when the caller hung up"
        stopped_at = log.closed_at
        session = site.sessions[0]
        for _ in range(300):
            if session.closed_at is not None and not site.app.state.parley.sessions:
                break
            await asyncio.sleep(0.01)
        assert stopped_at is not None and session.closed_at is not None
        assert session.closed_at - stopped_at < session.config.close_deadline_s
        assert session.end_reason == "Twilio stopped the stream"
        assert session.supervisor.tasks == [] and session.supervisor.abandoned == []
        assert session_tasks(session.id) == []
        assert len(twilio_calls(site.app)) == 0
    assert rest.requests == []  # Twilio ended the call: no REST hangup


async def test_rest_hangup_outcomes_against_the_fake() -> None:
    rest = FakeTwilioRest()
    async with serving(rest.app) as host:
        client = TwilioRest(ACCOUNT_SID, SecretStr(AUTH_TOKEN), base_url=f"http://{host}")
        gone = "CA" + "f" * 32
        assert await client.hang_up(gone) == "already ended"  # 404, code 20404
        wrong = TwilioRest(ACCOUNT_SID, SecretStr("not-the-token"), base_url=f"http://{host}")
        with pytest.raises(TwilioRestError, match="HTTP 401, code 20003") as refused:
            await wrong.hang_up(gone)
        assert "not-the-token" not in str(refused.value)
        with pytest.raises(ValueError, match="not a Twilio Call SID"):
            await client.hang_up("../../Accounts")
    unreachable = TwilioRest(ACCOUNT_SID, SecretStr(AUTH_TOKEN), base_url=f"http://{host}")
    with pytest.raises(TwilioRestError, match="ConnectError"):
        await unreachable.hang_up(gone)  # the fake is gone: a clear error, not a hang
