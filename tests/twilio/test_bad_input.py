"""Bad input on a media stream is logged with the call id and dropped; the call goes on."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from pydantic import SecretStr

from parley.testing.twilio_caller.fake_caller import (
    HangUp,
    Pause,
    SendRaw,
    Speak,
    WaitFor,
    agent_finished,
)
from parley.transports.twilio.transport import TwilioTransport

from .harness import AUTH_TOKEN, fake_providers, parley_server, speech


def media(stream_sid: str, payload: str) -> str:
    return json.dumps({"event": "media", "streamSid": stream_sid,
                       "media": {"track": "inbound", "payload": payload}})  # fmt: skip


async def test_bad_messages_are_logged_and_the_call_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="parley.twilio")
    providers = fake_providers(["what time is it in tokyo right now"], ["Nine in the evening."])
    async with parley_server(providers) as site:
        caller = site.caller([])
        sid = caller.stream_sid
        bad: list[str | bytes] = [
            "this is not json {",
            media("MZ" + "0" * 32, "f39/fw=="),  # someone else's stream
            media(sid, "@@not base64@@"),
            json.dumps({"event": "dance", "streamSid": sid}),
            json.dumps({"streamSid": sid, "media": {}}),
            json.dumps({"event": "media", "streamSid": sid}),  # no media object
            media(sid, "f" * 200_000),  # a huge frame
            b"\x00\x01binary",
            json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": "never-sent"}}),
            json.dumps({"event": "dtmf", "streamSid": sid, "dtmf": {"digit": "xyz"}}),
        ]
        caller.before_start = (media(sid, "f39/fw=="),)  # media before start
        caller.script = (
            *(SendRaw(message) for message in bad),
            Pause(0.3),
            Speak(speech("question_time")),
            WaitFor(agent_finished(0.3), what="the answer"),
            HangUp(),
        )
        log = await asyncio.wait_for(caller.run(), 20)
        now = asyncio.get_running_loop().time()

    assert abs(caller.playback.heard_seconds(now) - 1.0) < 0.03  # four words answered it
    transport = site.sessions[0].transport
    assert isinstance(transport, TwilioTransport)
    assert dict(transport.problems) == {
        "early": 1, "json": 1, "stream": 1, "base64": 1, "event": 1, "no event": 1,
        "fields": 2, "size": 1, "binary": 1, "mark": 1,
    }  # fmt: skip
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for expected in ("`media` before `start`", "malformed JSON", "for another stream",
                     "not valid base64", "unknown event 'dance'", "without an `event` field",
                     "invalid message (media.media", "over the 65536-byte limit", "binary frame",
                     "never sent", "dtmf.dtmf.digit"):  # fmt: skip
        assert any(expected in w for w in warnings), f"no warning says {expected!r}"
    assert all(caller.call_sid in w or "(before start)" in w for w in warnings)
    assert log.protocol_errors == []
    assert site.sessions[0].end_reason == "Twilio stopped the stream"


async def test_a_stream_without_the_webhooks_token_gets_no_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    providers = fake_providers([], [])
    async with parley_server(providers, twilio={"auth_token": AUTH_TOKEN}) as site:
        caller = site.caller([Pause(1.0), HangUp()], custom_parameters={"parley_token": "guess"})
        log = await asyncio.wait_for(caller.run(), 10)
    assert site.sessions == []
    assert log.ended_by == "server" and log.closed_at is not None
    assert log.closed_at - caller.started_at < 0.5
    assert any("wrong `parley_token`" in r.getMessage() for r in caplog.records)
    assert "test-auth-token" not in caplog.text
    assert SecretStr(AUTH_TOKEN).get_secret_value() not in caplog.text


async def test_a_stream_that_never_starts_is_closed_after_the_timeout() -> None:
    from websockets.asyncio.client import connect

    providers = fake_providers([], [])
    settings = {"twilio": {"start_timeout_s": 0.3}}
    async with parley_server(providers, **settings) as site, connect(site.media_url) as ws:
        await ws.send(json.dumps({"event": "connected", "protocol": "Call"}))
        loop = asyncio.get_running_loop()
        opened = loop.time()
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert 0.25 < loop.time() - opened < 2.0
    assert site.sessions == []


async def test_a_second_stream_for_a_call_in_progress_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    providers = fake_providers([], [])
    async with parley_server(providers) as site:
        first = site.caller([Pause(1.5), HangUp()])
        replay = site.caller([Pause(0.5), HangUp()], call_sid=first.call_sid)
        call = asyncio.create_task(first.run())
        await asyncio.sleep(0.3)
        replayed = await asyncio.wait_for(replay.run(), 5)
        assert replayed.ended_by == "server"
        assert len(site.app.state.parley.sessions) == 1  # the first call's, still running
        await asyncio.wait_for(call, 5)
    assert len(site.sessions) == 1 and site.sessions[0].end_reason == "Twilio stopped the stream"
    assert any("already running" in r.getMessage() for r in caplog.records)


async def test_with_only_an_access_token_a_stream_needs_the_token_keyed_with_it() -> None:
    access = "access-token-not-a-secret"
    providers = fake_providers([], [])
    async with parley_server(providers, access_token=access) as site:
        stranger = site.caller([Pause(0.5), HangUp()])
        await asyncio.wait_for(stranger.run(), 10)
        assert site.sessions == []  # no token: no session, though Twilio has no auth token
        invited = site.caller([Pause(0.5), HangUp()])
        invited.sign(SecretStr(access))
        await asyncio.wait_for(invited.run(), 10)
    assert [s.id for s in site.sessions] == [f"twilio-{invited.call_sid}"]
    assert stranger.log.ended_by == "server"
