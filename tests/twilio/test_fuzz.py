"""Fuzz WS /twilio/media with malformed messages during a call: each is logged as a problem
(Media Streams has no error event), the call stays up, and after them all the caller is
answered (invariant 10). See tests/fuzzing.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from parley.testing.twilio_caller.fake_caller import (
    FakeCaller,
    HangUp,
    Speak,
    WaitFor,
    agent_finished,
)
from parley.transports.twilio.messages import INBOUND_EVENTS
from parley.transports.twilio.transport import TwilioTransport
from tests.fuzzing import (
    FUZZ,
    JSON_VALUES,
    NOT_AN_OBJECT,
    NOT_BASE64,
    LoopThread,
    objects_without,
    odd_value,
    oversized,
    spliced,
    with_field,
)

from .harness import CallSite, fake_providers, parley_server, speech

MAX_BYTES = 4096
OTHER_STREAM = "MZ" + "0" * 32


def not_an_event(value: object) -> bool:
    return not (isinstance(value, str) and value in INBOUND_EVENTS)


def not_a_digit(text: str) -> bool:
    return not re.fullmatch(r"[0-9*#A-D]", text)


def bad_messages(sid: str) -> st.SearchStrategy[str | bytes]:
    """Malformed or misdirected messages for the stream `sid`: each earns a logged problem."""
    media = {"event": "media", "streamSid": sid}
    good_media = {**media, "media": {"payload": "f39/fw=="}}
    payloads = odd_value() | NOT_BASE64.map(json.dumps) | st.just('""')
    return st.one_of(
        NOT_AN_OBJECT,
        objects_without("event"),
        JSON_VALUES.filter(not_an_event).map(lambda e: json.dumps({"event": e, "streamSid": sid})),
        spliced(media, "media", odd_value()),
        payloads.map(lambda raw: with_field(media, "media", '{"payload": ' + raw + "}")),
        spliced(good_media, "sequenceNumber", odd_value()),
        st.just(json.dumps({**good_media, "streamSid": OTHER_STREAM})),
        st.text(max_size=30).map(lambda name: json.dumps(
            {"event": "mark", "streamSid": sid, "mark": {"name": f"never-sent-{name}"}})),
        st.text(max_size=3).filter(not_a_digit).map(lambda digit: json.dumps(
            {"event": "dtmf", "streamSid": sid, "dtmf": {"digit": digit}})),
        st.sampled_from([json.dumps({"event": "stop", "streamSid": OTHER_STREAM}),
                         json.dumps({"event": "stop"}), json.dumps({"event": "connected"})]),
        oversized(media, "payload", MAX_BYTES),
        st.binary(min_size=1, max_size=2000),
    )  # fmt: skip


async def place_call(
    stack: contextlib.AsyncExitStack, fuzzing: asyncio.Event
) -> tuple[CallSite, FakeCaller, asyncio.Task[Any]]:
    providers = fake_providers(["what time is it in tokyo right now"], ["Nine in the evening."])
    site = await stack.enter_async_context(
        parley_server(providers, twilio={"max_message_bytes": MAX_BYTES})
    )
    script = (
        WaitFor(lambda caller, now: fuzzing.is_set(), limit=600, what="the end of the fuzz"),
        Speak(speech("question_time")),
        WaitFor(agent_finished(0.3), what="the answer"),
        HangUp(),
    )
    caller = site.caller(script)
    call = asyncio.create_task(caller.run())
    async with asyncio.timeout(5):
        while not site.sessions:  # noqa: ASYNC110 - the harness records sessions, no event
            await asyncio.sleep(0.01)
    return site, caller, call


async def problem_for(site: CallSite, caller: FakeCaller, message: str | bytes) -> str:
    """Send one message; the kind of problem the transport logged for it."""
    transport = site.sessions[0].transport
    assert isinstance(transport, TwilioTransport)
    before = transport.problems.copy()
    await caller.send_raw(message)
    async with asyncio.timeout(5):
        while transport.problems == before:
            assert caller.log.closed_at is None, "the server closed the stream"
            await asyncio.sleep(0.002)
    assert len(site.app.state.parley.sessions) == 1
    (kind,) = (transport.problems - before).keys()
    return kind


async def finish(fuzzing: asyncio.Event, call: asyncio.Task[Any]) -> None:
    fuzzing.set()
    await asyncio.wait_for(call, 30)


def test_malformed_messages_never_end_a_phone_call() -> None:
    loop = LoopThread()
    stack = contextlib.AsyncExitStack()
    fuzzing = asyncio.Event()
    try:
        site, caller, call = loop.run(place_call(stack, fuzzing))
        kinds: set[str] = set()

        @FUZZ
        @given(bad_messages(caller.stream_sid))
        def each(message: str | bytes) -> None:
            kinds.add(loop.run(problem_for(site, caller, message)))

        each()
        loop.run(finish(fuzzing, call))
        assert caller.log.protocol_errors == []
        assert caller.heard_since_last_utterance(caller.log.closed_at or 0) > 0.5  # answered
        assert site.sessions[0].end_reason == "Twilio stopped the stream"
        assert "internal" not in kinds
        assert {"json", "fields", "no event", "binary", "size", "mark", "stream"} <= kinds
    finally:
        loop.run(stack.aclose())
        loop.close()
