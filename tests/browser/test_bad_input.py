"""Invariant 10 over WS /ws: every kind of bad input gets an error event naming it, the
session goes on, and another page's session never notices."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from .harness import Client, fake_providers, parley_site, tone, wav

pytestmark = pytest.mark.asyncio


def speech_end(data: bytes) -> str:
    return json.dumps({"type": "speech_end", "audio": base64.b64encode(data).decode()})


NEGATIVE_POSITION = '{"type": "playback_position", "response_id": "r", "played_seconds": -1}'
WAV_HEADER_ONLY_JUNK = b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk"
BAD_INPUT: list[tuple[str, str | bytes, str]] = [
    ("malformed JSON", '{"type": "speech_start"', "malformed_json"),
    ("not an object", "[1, 2, 3]", "missing_type"),
    ("no type", '{"kind": "speech_start"}', "missing_type"),
    ("unknown type", '{"type": "dance"}', "unknown_type"),
    ("missing field", '{"type": "speech_end"}', "invalid_message"),
    ("wrong field type", '{"type": "speech_end", "audio": 42}', "invalid_message"),
    (
        "negative position",
        '{"type": "playback_position", "response_id": "r", "played_seconds": -1}',
        "invalid_message",
    ),
    ("unsupported rate", '{"type": "start_stream", "sample_rate": 12345}', "invalid_message"),
    ("bad base64", '{"type": "speech_end", "audio": "%%% not base64 %%%"}', "bad_base64"),
    ("unknown audio", speech_end(b"hello, this is not audio at all"), "bad_audio"),
    ("broken WAV", speech_end(WAV_HEADER_ONLY_JUNK), "bad_audio"),
    ("broken WebM", speech_end(b"\x1a\x45\xdf\xa3" + bytes(200)), "bad_audio"),
    ("empty audio", speech_end(b""), "bad_audio"),
    ("too long", speech_end(wav(3.0)), "bad_audio"),
    ("oversize", json.dumps({"type": "speech_end", "audio": "A" * 250_000}), "too_large"),
    ("binary before start_stream", bytes(640), "no_stream"),
]
STREAMING_BAD_INPUT: list[tuple[str, str | bytes, str]] = [
    ("odd byte count", bytes(641), "bad_audio"),
    ("oversize frame", bytes(8192), "too_large"),
]
LIMITS = {"max_message_bytes": 200_000, "max_frame_bytes": 4096, "max_utterance_s": 2.0}


async def answered(client: Client, text: str) -> None:
    """A normal turn still works: said, heard, answered."""
    await client.say(wav())
    transcript = await client.expect("user_transcript")
    assert transcript.message["text"] == text
    await client.expect("agent_response_done")


async def test_each_bad_message_gets_a_named_error_and_the_session_goes_on() -> None:
    providers = fake_providers(["after all that", "still here"], ["Fine.", "Yes."])
    server = parley_site(providers, browser=LIMITS)
    async with server as site, site.client() as client, site.client() as bystander:
        await client.expect("connected")
        await bystander.expect("connected")
        for name, payload, code in BAD_INPUT:
            await client.send(payload)
            error = (await client.expect("error")).message
            assert error["code"] == code, name
            assert error["message"], name
        await client.send({"type": "start_stream", "sample_rate": 16000})
        for name, payload, code in STREAMING_BAD_INPUT:
            await client.send(payload)
            assert (await client.expect("error")).message["code"] == code, name
        await client.send(tone(0.02).pcm)  # a good frame is taken
        await answered(client, "after all that")
        await answered(bystander, "still here")
        assert "error" not in bystander.events()
        assert "session_ended" not in client.events()
        assert len(client.of("error")) == len(BAD_INPUT) + len(STREAMING_BAD_INPUT)


async def test_error_messages_name_the_problem() -> None:
    async with parley_site(fake_providers(), browser=LIMITS) as site, site.client() as client:
        await client.expect("connected")
        await client.send('{"type": "dance"}')
        unknown = (await client.expect("error")).message["message"]
        assert "'dance'" in unknown and "speech_end" in unknown
        await client.send(speech_end(b"hello, this is not audio at all"))
        assert "WAV or WebM/Opus" in (await client.expect("error")).message["message"]
        await client.send(speech_end(wav(3.0)))
        assert "limit is 2 s" in (await client.expect("error")).message["message"]
        await client.send('{"type": "speech_end"}')
        assert "audio" in (await client.expect("error")).message["message"]


async def test_a_flood_is_cut_off_with_one_error_then_the_session_goes_on() -> None:
    providers = fake_providers(["after the flood"], ["Calm again."])
    limits = {"max_messages_per_second": 50}
    async with parley_site(providers, browser=limits) as site, site.client() as client:
        await client.expect("connected")
        for _ in range(300):
            await client.send({"type": "client_playback_started"})
        error = (await client.expect("error")).message
        assert error["code"] == "flooding" and "50" in error["message"]
        await asyncio.sleep(1.1)  # the next second's messages are admitted again
        await answered(client, "after the flood")
        assert [m["code"] for m in client.of("error")] == ["flooding"]


def position(response_id: str, played: str, kind: str = "playback_position") -> str:
    """A position report with `played` written into the JSON as is (Infinity, 1e400...)."""
    return f'{{"type": "{kind}", "response_id": "{response_id}", "played_seconds": {played}}}'


async def test_numbers_no_response_can_have_and_deep_nesting_are_refused_mid_response() -> None:
    # While resp_1 plays, and once the page reports positions, a client_playback_complete of
    # 1e308 reached the playout scheduler (round(inf) raised) and ended the call.
    providers = fake_providers(["tell me a story", "still there"], ["Once upon a time.", "Yes."])
    async with parley_site(providers) as site, site.client() as client:
        await client.expect("connected")
        await client.say(wav())
        assert (await client.expect("user_transcript")).message["text"] == "tell me a story"
        response_id = (await client.expect("agent_response_started")).message["response_id"]
        await client.expect("play_audio")
        await client.send(position(response_id, "0.02"))  # from now on the page's word counts
        bad = [
            (position(response_id, "Infinity"), "malformed_json"),
            (position(response_id, "NaN"), "malformed_json"),
            (position(response_id, "1e400"), "invalid_message"),  # parses as inf
            (position(response_id, "1e308"), "invalid_message"),
            (position(response_id, "1e308", "client_playback_complete"), "invalid_message"),
            (position(response_id, "Infinity", "client_playback_complete"), "malformed_json"),
            ("[" * 1000 + "]" * 1000, "malformed_json"),
            ('{"type": "hangup", "x": ' + "[" * 1000 + "]" * 1000 + "}", "malformed_json"),
            ('{"type": "hangup", "reason": "\\ud800"}', "malformed_json"),  # a lone surrogate
            ('{"type": "start_stream", "sample_rate": ' + "9" * 5000 + "}", "malformed_json"),
        ]
        for payload, code in bad:
            await client.send(payload)
            error = (await client.expect("error")).message
            assert error["code"] == code, payload[:80]
        await client.expect("agent_response_done")
        await answered(client, "still there")
        assert "session_ended" not in client.events()
