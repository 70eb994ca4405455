"""Fuzz WS /ws with malformed messages: each gets an `error` event, the session stays open,
and a normal turn works after them all (invariant 10). See tests/fuzzing.py."""

from __future__ import annotations

import base64
import contextlib
import json
import time

from hypothesis import given
from hypothesis import strategies as st

from parley.audio.frames import SUPPORTED_RATES
from parley.transports.browser.messages import CLIENT_TYPES
from tests.fuzzing import (
    FUZZ,
    JSON_VALUES,
    NOT_AN_OBJECT,
    NOT_BASE64,
    ODD_NUMBERS,
    LoopThread,
    objects_without,
    odd_value,
    oversized,
    spliced,
)

from .harness import Client, Site, fake_providers, parley_site, wav

LIMITS = {"max_message_bytes": 50_000, "max_messages_per_second": 1_000_000}


def of_type(kind: str, extra: dict[str, object] | None = None) -> dict[str, object]:
    return {"type": kind, **(extra or {})}


def unknown_type(kind: object, extra: dict[str, object]) -> str:
    return json.dumps({**extra, "type": kind})


def junk_audio(data: bytes) -> str:
    return json.dumps(of_type("speech_end", {"audio": base64.b64encode(b"junk" + data).decode()}))


POSITION = of_type("playback_position", {"response_id": "resp_1"})
COMPLETE = of_type("client_playback_complete", {"response_id": "resp_1"})
BAD_RATES = ODD_NUMBERS | st.integers().filter(lambda r: r not in SUPPORTED_RATES).map(str)
BAD_IDS = odd_value() | st.just('""') | st.just(json.dumps("r" * 201))
LONG_REASONS = st.text(min_size=201, max_size=300).map(json.dumps)
BAD_MESSAGES: st.SearchStrategy[str | bytes] = st.one_of(
    NOT_AN_OBJECT,
    objects_without("type"),
    st.builds(unknown_type, JSON_VALUES.filter(lambda v: v not in CLIENT_TYPES),
              st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=2)),
    spliced(of_type("speech_end"), "audio", odd_value() | NOT_BASE64.map(json.dumps)),
    st.binary(max_size=300).map(junk_audio),
    spliced(POSITION, "played_seconds", ODD_NUMBERS),
    spliced(of_type("playback_position", {"played_seconds": 0.5}), "response_id", BAD_IDS),
    spliced(COMPLETE, "played_seconds", ODD_NUMBERS),
    spliced(of_type("start_stream"), "sample_rate", BAD_RATES),
    spliced(of_type("hangup"), "reason", odd_value() | LONG_REASONS),
    oversized(of_type("speech_end"), "audio", LIMITS["max_message_bytes"]),
    st.binary(min_size=1, max_size=2000),  # audio frames before any start_stream
)  # fmt: skip


async def open_session(stack: contextlib.AsyncExitStack) -> tuple[Site, Client]:
    providers = fake_providers(["after the fuzz"], ["Still here."])
    site = await stack.enter_async_context(parley_site(providers, browser=LIMITS))
    client = await stack.enter_async_context(site.client())
    await client.expect("connected")
    return site, client


async def error_for(site: Site, client: Client, message: str | bytes) -> str:
    """Send one message; the code of the error event it earned (the session must live on)."""
    mark = len(client.received)
    await client.send(message)
    deadline = time.monotonic() + 5
    while True:
        for item in client.received[mark:]:
            assert item.event != "session_ended", f"the session ended: {item.message}"
            if item.event == "error":
                assert len(site.state.sessions) == 1
                return str(item.message["code"])
        left = deadline - time.monotonic()
        assert left > 0, f"no error event for {message[:80]!r}"
        assert await client.next(left) is not None, "the server closed the connection"


async def a_turn_still_works(client: Client) -> None:
    await client.say(wav())
    assert (await client.expect("user_transcript")).message["text"] == "after the fuzz"
    done = await client.expect("agent_response_done")
    assert done.message["status"] == "completed"


def test_malformed_messages_never_end_a_browser_session() -> None:
    loop = LoopThread()
    stack = contextlib.AsyncExitStack()
    try:
        site, client = loop.run(open_session(stack))
        codes: set[str] = set()

        @FUZZ
        @given(BAD_MESSAGES)
        def each(message: str | bytes) -> None:
            codes.add(loop.run(error_for(site, client, message)))

        each()
        loop.run(a_turn_still_works(client))
        assert "internal_error" not in codes
        assert {"malformed_json", "missing_type", "invalid_message", "no_stream"} <= codes
    finally:
        loop.run(stack.aclose())
        loop.close()
