"""The endpoint's pure parts: the client's audio timeline, formats, and settings mapping."""

from __future__ import annotations

import base64

import pytest

from parley.audio.codecs import pcm16_to_ulaw
from parley.audio.frames import AudioFrame
from parley.conversation import TurnTakingPolicy
from parley.transports.realtime.client_events import Rejection, parse
from parley.transports.realtime.config import ServerVAD, policy_for, server_vad_of
from parley.transports.realtime.formats import (
    AudioPayloadError,
    decode_audio,
    encode_audio,
    frames_of,
)
from parley.transports.realtime.items import AssistantItem


def test_a_truncation_maps_onto_the_response_across_a_pause_and_resume() -> None:
    item = AssistantItem("resp_1")
    for start in range(0, 1000, 20):  # 1 s of 20 ms deltas
        item.written(start / 1000, 0.02)
    # paused with the playhead at 0.9 s: 100 ms sent ahead is taken back; resumed from 0.9 s
    for start in range(900, 1400, 20):
        item.written(start / 1000, 0.02)

    assert len(item.runs) == 2
    assert item.written_ms == pytest.approx(1500)
    assert item.offset_at(800) == pytest.approx(0.8)
    assert item.offset_at(1000) == pytest.approx(1.0)  # the end of what was first sent
    assert item.offset_at(1200) == pytest.approx(1.1)  # 100 ms into the resumed audio
    assert item.offset_at(1500) == pytest.approx(1.4)
    assert item.offset_at(1600) is None  # more than the client was ever sent


def test_formats_decode_and_encode_at_their_rates() -> None:
    pcm = AudioFrame(bytes(range(256)) * 4, 24000)
    assert decode_audio(encode_audio(pcm, "pcm16"), "pcm16") == pcm
    ulaw = base64.b64encode(pcm16_to_ulaw(bytes(320))).decode()
    assert decode_audio(ulaw, "g711_ulaw") == AudioFrame(bytes(320), 8000)
    assert len(base64.b64decode(encode_audio(AudioFrame(bytes(960), 24000), "g711_alaw"))) == 160
    with pytest.raises(AudioPayloadError, match="base64"):
        decode_audio("not base64!", "pcm16")
    with pytest.raises(AudioPayloadError, match="16-bit"):
        decode_audio(base64.b64encode(b"abc").decode(), "pcm16")
    frames = frames_of(AudioFrame(bytes(2 * 24000 // 10 + 100), 24000))  # 100 ms and a bit
    assert [f.samples for f in frames] == [480] * 5 + [50]


def test_server_vad_settings_are_the_policy_seen_from_outside() -> None:
    base = TurnTakingPolicy(merge_gap_ms=150, vad_threshold=0.6)
    vad = ServerVAD(threshold=0.7, prefix_padding_ms=200, silence_duration_ms=350,
                    create_response=False, interrupt_response=False)  # fmt: skip
    policy = policy_for(vad, base)
    assert (policy.vad_threshold, policy.prefix_padding_ms, policy.min_silence_ms) == (
        0.7, 200, 350,
    )  # fmt: skip
    assert not policy.auto_respond and not policy.interrupt_on_speech
    assert policy.merge_gap_ms == 150  # parley's own settings stay
    assert server_vad_of(policy) == vad
    manual = policy_for(None, base)
    assert (manual.auto_respond, manual.interrupt_on_speech, manual.merge_gap_ms) == (
        False, False, 0,
    )  # fmt: skip
    with pytest.raises(ValueError, match="min_silence_ms"):
        policy_for(vad.model_copy(update={"silence_duration_ms": 5}), base)


def test_beta_and_ga_session_updates_are_told_apart_by_their_fields() -> None:
    flat = '{"type": "session.update", "session": {"input_audio_format": "g711_alaw"}}'
    nested = '{"type": "session.update", "session": {"audio": {"input": {}}}}'
    assert not isinstance(parse(flat, beta=True), Rejection)
    assert not isinstance(parse(nested, beta=False), Rejection)
    ga_refusal = parse(flat, beta=False)
    beta_refusal = parse(nested, beta=True)
    assert isinstance(ga_refusal, Rejection) and isinstance(beta_refusal, Rejection)
    assert (ga_refusal.code, ga_refusal.param) == (
        "unknown_parameter", "session.input_audio_format",
    )  # fmt: skip
    assert (beta_refusal.code, beta_refusal.param) == ("unknown_parameter", "session.audio")


def test_parse_turns_any_failure_into_a_rejection(monkeypatch: pytest.MonkeyPatch) -> None:
    from parley.transports.realtime import client_events

    def broken(*args: object, **kwargs: object) -> None:
        raise RecursionError("a validator bug")

    monkeypatch.setattr(client_events.CancelResponse, "model_validate", broken)
    rejected = parse('{"type": "response.cancel", "event_id": "e9"}', beta=False)
    assert isinstance(rejected, Rejection)
    assert (rejected.code, rejected.event_id) == ("invalid_value", "e9")
    assert "RecursionError" in rejected.message
    deep = parse("[" * 1000 + "]" * 1000, beta=False)
    assert isinstance(deep, Rejection) and deep.code == "invalid_json"
