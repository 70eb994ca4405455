"""Fuzz WS /v1/realtime with malformed client events: each gets an `error` event (in the
SDK's shape), the session stays open, and a response works after them all (invariant 10).
See tests/fuzzing.py."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from parley.transports.realtime.client_events import UNSUPPORTED_EVENTS
from tests.fuzzing import (
    FUZZ,
    JSON_VALUES,
    NOT_AN_OBJECT,
    NOT_BASE64,
    ODD_NUMBERS,
    LoopThread,
    deep,
    objects_without,
    odd_value,
    oversized,
    spliced,
    with_field,
)

from .harness import (
    Received,
    Site,
    a_response_still_works,
    fake_providers,
    realtime_server,
    receiving,
)

LIMITS = {"max_message_bytes": 50_000, "max_messages_per_second": 1_000_000}
KNOWN = [
    "session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
    "input_audio_buffer.clear", "conversation.item.create", "conversation.item.truncate",
    "response.create", "response.cancel",
]  # fmt: skip
TRUNCATE = {"type": "conversation.item.truncate", "item_id": "x", "content_index": 0}
APPEND = {"type": "input_audio_buffer.append"}
VAD_FIELDS = st.sampled_from(["threshold", "prefix_padding_ms", "silence_duration_ms"])


def session_update(field: str, raw: str) -> str:
    """session.update whose server VAD has `field` set to the raw JSON text `raw`."""
    vad = with_field({"type": "server_vad"}, field, raw)
    return '{"type": "session.update", "session": {"audio": {"input": {"turn_detection": ' + (
        vad + "}}}}"
    )


def not_pcm16(data: bytes) -> str:
    """An append of an odd number of bytes: not 16-bit samples."""
    odd = data if len(data) % 2 else data + b"\x00"
    return json.dumps({**APPEND, "audio": base64.b64encode(odd).decode()})


def metadata(raw: str) -> str:
    return '{"type": "response.create", "response": {"metadata": {"a": ' + raw + "}}}"


def item_text(raw: str) -> str:
    content = '[{"type": "input_text", "text": ' + raw + "}]"
    item = '{"type": "message", "role": "user", "content": ' + content + "}"
    return '{"type": "conversation.item.create", "item": ' + item + "}"


def deep_response(depth: int) -> str:
    return '{"type": "response.create", "response": ' + deep(depth) + "}"


UNKNOWN_TYPES = JSON_VALUES.filter(lambda v: v not in KNOWN) | st.sampled_from(
    list(UNSUPPORTED_EVENTS)
)
BAD_EVENTS: st.SearchStrategy[str | bytes] = st.one_of(
    NOT_AN_OBJECT,
    objects_without("type"),
    UNKNOWN_TYPES.map(lambda kind: json.dumps({"type": kind})),
    st.builds(lambda kind, key, value: json.dumps({"type": kind, f"x_{key}": value}),
              st.sampled_from(KNOWN), st.text(max_size=6), JSON_VALUES),
    spliced(APPEND, "audio", odd_value() | NOT_BASE64.map(json.dumps)),
    st.binary(max_size=99).map(not_pcm16),
    spliced(TRUNCATE, "audio_end_ms", ODD_NUMBERS),
    spliced({**TRUNCATE, "audio_end_ms": 0}, "content_index", ODD_NUMBERS),
    st.builds(session_update, VAD_FIELDS, ODD_NUMBERS),
    odd_value().map(metadata),
    odd_value().map(item_text),
    st.integers(201, 3000).map(deep_response),
    oversized(APPEND, "audio", LIMITS["max_message_bytes"]),
    st.binary(min_size=1, max_size=2000),
)  # fmt: skip


async def open_session(stack: contextlib.AsyncExitStack) -> tuple[Site, Any, Received]:
    site = await stack.enter_async_context(
        realtime_server(fake_providers([], ["Still here."]), realtime=LIMITS)
    )
    conn = await stack.enter_async_context(site.client().realtime.connect(model="m"))
    got = await stack.enter_async_context(receiving(conn))
    await got.next("session.created")
    return site, conn, got


async def error_for(site: Site, conn: Any, got: Received, event: str | bytes) -> str:
    mark = got.mark()
    await conn.send_raw(event)
    error = (await got.next("error", after=mark, limit=5))["error"]
    assert got.closed is None and len(site.state.sessions) == 1
    return str(error["code"])


def test_malformed_events_never_end_a_realtime_session() -> None:
    loop = LoopThread()
    stack = contextlib.AsyncExitStack()
    try:
        site, conn, got = loop.run(open_session(stack))
        codes: set[str] = set()

        @FUZZ
        @given(BAD_EVENTS)
        def each(event: str | bytes) -> None:
            codes.add(loop.run(error_for(site, conn, got, event)))

        each()
        loop.run(a_response_still_works(conn, got))
        assert "internal_error" not in codes
        assert {"invalid_json", "unknown_parameter", "invalid_value"} <= codes
    finally:
        loop.run(stack.aclose())
        loop.close()
