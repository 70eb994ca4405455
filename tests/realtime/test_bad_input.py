"""Bad input gets an `error` event naming the problem, with the API's codes; the session goes
on (invariant 10), and every event the endpoint does not support is refused out loud."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from .harness import (
    API_KEY,
    Received,
    a_response_still_works,
    ask_in_text,
    b64,
    fake_providers,
    realtime_server,
    receiving,
)


async def each_gets_its_error(
    conn: Any, got: Received, bad: Sequence[tuple[Any, str, str | None]]
) -> list[dict[str, Any]]:
    """Send each message (JSON-encoded unless already a string); each must be answered by an
    `error` with the expected code and param. Returns the errors, in order."""
    errors: list[dict[str, Any]] = []
    for message, code, param in bad:
        mark = got.mark()
        raw = message if isinstance(message, str) else json.dumps(message)
        await conn.send_raw(raw)
        error = (await got.next("error", after=mark))["error"]
        assert (error["code"], error.get("param")) == (code, param), (raw[:80], error)
        errors.append(error)
    return errors


async def test_each_bad_message_gets_its_error_and_the_session_goes_on() -> None:
    bad: list[tuple[Any, str, str | None]] = [
        ("{not json", "invalid_json", None),
        ([1, 2], "invalid_json", None),
        ({"event_id": "e1"}, "missing_required_parameter", "type"),
        ({"type": "response.explode", "event_id": "e2"}, "invalid_value", "type"),
        ({"type": "conversation.item.truncate", "item_id": "x", "content_index": 0},
         "missing_required_parameter", "audio_end_ms"),
        ({"type": "conversation.item.truncate", "item_id": "x", "content_index": 0,
          "audio_end_ms": -5}, "invalid_value", "audio_end_ms"),
        ({"type": "session.update", "session": {"input_audio_format": "g711_ulaw"}},
         "unknown_parameter", "session.input_audio_format"),
        ({"type": "session.update", "session": {"instructions": 42}},
         "invalid_type", "session.instructions"),
        ({"type": "session.update", "session": {"audio": {"input": {"format": {
            "type": "audio/opus"}}}}}, "invalid_value", "session.audio.input.format.type"),
        ({"type": "session.update", "session": {"audio": {"input": {"turn_detection": {
            "type": "server_vad", "threshold": 3}}}}},
         "invalid_value", "session.audio.input.turn_detection.threshold"),
        ({"type": "input_audio_buffer.append", "audio": "@@not base64@@"},
         "invalid_value", "audio"),
        ({"type": "input_audio_buffer.append", "audio": b64(b"\x01\x02\x03")},
         "invalid_value", "audio"),
        ({"type": "conversation.item.delete", "item_id": "x"}, "invalid_value", "item_id"),
        ({"type": "conversation.item.retrieve", "item_id": "x"}, "invalid_value", "item_id"),
        ({"type": "conversation.item.retrieve"}, "missing_required_parameter", "item_id"),
        ({"type": "output_audio_buffer.clear"}, "unsupported_event", "type"),
        ({"type": "conversation.item.create", "item": {"type": "message", "role": "assistant",
          "content": [{"type": "output_text", "text": "hi"}]}}, "unsupported_value",
         "item.role"),
        ({"type": "conversation.item.create", "item": {"type": "function_call_output",
          "call_id": "c", "output": "{}"}}, "invalid_value", "item.call_id"),
        ({"type": "conversation.item.create", "item": {"type": "function_call",
          "call_id": "c", "name": "f", "arguments": "{}"}}, "unsupported_value", "item.type"),
        ({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
          "content": [{"type": "input_text"}]}}, "missing_required_parameter",
         "item.content[0].text"),
        ({"type": "response.create", "response": {"conversation": "none"}},
         "unsupported_value", "response.conversation"),
        ({"type": "response.cancel"}, "response_cancel_not_active", None),
        ({"type": "input_audio_buffer.commit"}, "input_audio_buffer_commit_empty", None),
        ({"type": "session.update", "session": {"type": "realtime", "tools": [
            {"type": "mcp", "server_label": "f"}]}}, "unsupported_value", "session.tools[0].type"),
        ({"type": "session.update", "session": {"type": "realtime", "tools": [
            {"type": "function", "name": "no spaces"}]}}, "unsupported_value",
         "session.tools[0].name"),
    ]  # fmt: skip
    async with (
        realtime_server(fake_providers([], ["Still here."])) as site,
        site.client().realtime.connect(model="m") as conn,
        receiving(conn) as got,
    ):
        await got.next("session.created")
        for error in await each_gets_its_error(conn, got, bad):
            assert error["type"] == "invalid_request_error"
            assert error["message"]
        # the session is fine: a text turn is answered
        await ask_in_text(conn)
        await conn.response.create(event_id="evt_ask")
        await got.next("response.created")
        mark = got.mark()
        await conn.response.create(event_id="evt_again")
        busy = (await got.next("error", after=mark))["error"]
        done = await got.next("response.done")

    assert busy["code"] == "conversation_already_has_active_response"
    assert busy["event_id"] == "evt_again"
    assert done["response"]["output"][0]["content"][0]["transcript"] == "Still here."
    errors_by_id = {e["event_id"]: e["code"] for e in got.errors() if e["event_id"]}
    assert errors_by_id["e2"] == "invalid_value"


async def test_an_oversized_message_and_binary_frames_are_refused() -> None:
    async with realtime_server(
        fake_providers([], []), realtime={"max_message_bytes": 4096}
    ) as site:
        url = f"ws://{site.host}/v1/realtime?model=m"
        async with connect(url, additional_headers={"Authorization": f"Bearer {API_KEY}"}) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": "A" * 8000}))
            too_large = json.loads(await ws.recv())["error"]
            await ws.send(b"\x00\x01")
            binary = json.loads(await ws.recv())["error"]
            await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
            cleared = json.loads(await ws.recv())

    assert too_large["code"] == "message_too_large"
    assert binary["code"] == "invalid_value" and "binary" in binary["message"]
    assert cleared["type"] == "input_audio_buffer.cleared"


async def test_a_flood_is_slowed_down_not_dropped() -> None:
    async with (
        realtime_server(fake_providers([], []), realtime={"max_messages_per_second": 20}) as site,
        site.client().realtime.connect(model="m") as conn,
        receiving(conn) as got,
    ):
        await got.next("session.created")
        for _ in range(50):
            await conn.input_audio_buffer.clear()
        await got.next("input_audio_buffer.cleared", after=got.mark() + 40, limit=5)
        while len(got.of("input_audio_buffer.cleared")) < 50:
            await got.next("input_audio_buffer.cleared", after=got.mark(), limit=5)

    cleared_at = [t for t, e in got.log if e["type"] == "input_audio_buffer.cleared"]
    assert len(cleared_at) == 50  # nothing dropped
    assert cleared_at[-1] - cleared_at[0] >= 1.9  # 50 messages at 20 a second
    limited = [e for e in got.errors() if e["code"] == "rate_limit_exceeded"]
    assert 1 <= len(limited) <= 3  # told once per second it was slowed


async def test_exactly_the_limit_in_one_second_is_not_told_it_is_over() -> None:
    """The counter counts messages received: the read that waits for the next message is
    not one (it once was, and a client that sent exactly the limit was told off)."""
    async with (
        realtime_server(fake_providers([], []), realtime={"max_messages_per_second": 10}) as site,
        site.client().realtime.connect(model="m") as conn,
        receiving(conn) as got,
    ):
        await got.next("session.created")
        for _ in range(10):
            await conn.input_audio_buffer.clear()
        while len(got.of("input_audio_buffer.cleared")) < 10:
            await got.next("input_audio_buffer.cleared", after=got.mark(), limit=5)
        await asyncio.sleep(0.5)  # an error for an 11th would have come by now

    assert [e["code"] for e in got.errors()] == []


@pytest.mark.parametrize("configured", [None, "s3cret-token"])
async def test_the_api_key_is_checked_only_when_an_access_token_is_set(
    configured: str | None,
) -> None:
    settings = {} if configured is None else {"access_token": configured}
    async with realtime_server(fake_providers([], []), **settings) as site:
        outcomes = {}
        for key in ("sk-whatever", "s3cret-token"):
            async with site.client(key).realtime.connect(model="m") as conn:
                first = json.loads(await conn.recv_bytes())
                closed = None
                if first["type"] == "error":
                    with pytest.raises(ConnectionClosed) as info:
                        await asyncio.wait_for(conn.recv_bytes(), 5)
                    closed = info.value.rcvd.code if info.value.rcvd else None
                outcomes[key] = (first["type"], first.get("error", {}).get("code"), closed)
        # a browser passes the key as a subprotocol
        url = f"ws://{site.host}/v1/realtime?model=m"
        offer = [Subprotocol("realtime"), Subprotocol("openai-insecure-api-key.s3cret-token")]
        async with connect(url, subprotocols=offer) as ws:
            browser = (json.loads(await ws.recv())["type"], ws.subprotocol)

    if configured is None:
        assert outcomes["sk-whatever"][0] == "session.created"
    else:
        assert outcomes["sk-whatever"] == ("error", "invalid_api_key", 1008)
    assert outcomes["s3cret-token"][0] == "session.created"
    assert browser == ("session.created", "realtime")


async def test_deep_nesting_and_odd_numbers_get_errors_and_the_call_goes_on() -> None:
    # json.loads raised RecursionError on the first two, which nothing caught: the call ended.
    deep = "[" * 1000 + "]" * 1000
    bad: list[tuple[str, str, str | None]] = [
        (deep, "invalid_json", None),
        ('{"type": "response.create", "response": {"metadata": {"a": ' + deep + "}}}",
         "invalid_json", None),
        ('{"type": "response.create", "response": {"temperature": Infinity}}',
         "invalid_json", None),
        ('{"type": "response.create", "response": {"temperature": NaN}}', "invalid_json", None),
        ('{"type": "session.update", "session": {"audio": {"input": {"turn_detection": '
         '{"type": "server_vad", "threshold": 1e400}}}}}', "invalid_value",
         "session.audio.input.turn_detection.threshold"),
        ('{"type": "conversation.item.truncate", "item_id": "x", "content_index": 0, '
         '"audio_end_ms": 1' + "0" * 400 + "}", "invalid_value", "audio_end_ms"),
        ('{"type": "conversation.item.truncate", "item_id": "x", "content_index": 0, '
         '"audio_end_ms": ' + "9" * 5000 + "}", "invalid_json", None),
        ('{"type": "conversation.item.create", "item": {"type": "message", "role": "user", '
         '"content": [{"type": "input_text", "text": "\\udc00"}]}}', "invalid_json", None),
    ]  # fmt: skip
    async with (
        realtime_server(fake_providers([], ["Still here."])) as site,
        site.client().realtime.connect(model="m") as conn,
        receiving(conn) as got,
    ):
        await got.next("session.created")
        await each_gets_its_error(conn, got, bad)
        await a_response_still_works(conn, got)
