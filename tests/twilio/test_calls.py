"""Whole calls over Twilio Media Streams: a fake caller with real speech against the server.

Providers are the fakes (a loudness VAD that works on real speech, scripted STT and LLM, a
16 kHz TTS the pipeline resamples to 8 kHz), so these run in real time in a few seconds.
"""

from __future__ import annotations

import asyncio

from parley.events import AgentResponseStarted, UserDtmf, UserSpeechStarted
from parley.testing.twilio_caller.fake_caller import (
    HangUp,
    Pause,
    PressKeys,
    Speak,
    WaitFor,
    agent_finished,
    agent_heard,
)
from parley.transports.twilio.transport import TwilioTransport
from tests.conftest import Measure

from .harness import FRAME, fake_providers, parley_server, speech

STORY = " ".join(f"word{i}" for i in range(24)) + "."  # 24 words of 250 ms: 6 s of speech


async def test_a_question_gets_a_spoken_answer(measured: Measure) -> None:
    reply = "It is nine in the evening in Tokyo."  # 8 words: 2 s of audio
    providers = fake_providers(["what time is it in tokyo right now"], [reply])
    async with parley_server(providers) as site:
        caller = site.caller([
            Pause(0.3),
            Speak(speech("question_time"), "question"),
            WaitFor(agent_finished(0.5), what="the answer"),
            HangUp(),
        ])  # fmt: skip
        log = await asyncio.wait_for(caller.run(), 20)
        now = asyncio.get_running_loop().time()

    heard = caller.playback.heard_seconds(now)
    assert abs(heard - 2.0) < 0.03, f"heard {heard:.3f} s of a 2 s answer"
    assert len(log.media_received) == 100  # 20 ms frames
    assert len(log.marks_echoed) == len(log.marks_received) == 100
    assert log.clears_received == [] and log.protocol_errors == []
    session = site.sessions[0]
    assert [m.content for m in session.conversation.history[1:]] == [
        "what time is it in tokyo right now",
        reply,
    ]
    assert not session.conversation.history[2].interrupted
    transport = session.transport
    assert isinstance(transport, TwilioTransport)
    assert transport.marks.reports == 100 and transport.marks.outstanding == 0
    assert not transport.problems
    v2v = caller.voice_to_voice(log.utterances[0])
    assert v2v is not None and v2v < 2.0
    measured("fakes: voice-to-voice at the caller (end of speech to first media)", v2v * 1000, "ms")


async def test_barge_in_clears_within_a_frame_and_old_audio_never_follows(
    measured: Measure,
) -> None:
    heard = [
        "can you tell me a short story about a lighthouse",
        "wait stop tell me about the weather",
    ]
    providers = fake_providers(heard, [STORY, "It is sunny."])
    async with parley_server(providers) as site:
        caller = site.caller([
            Pause(0.3),
            Speak(speech("question_story"), "question"),
            WaitFor(agent_heard(1.5), what="the story"),
            Speak(speech("interrupt_wait"), "barge-in"),
            WaitFor(agent_finished(0.5), what="the second answer"),
            HangUp(),
        ], echo_marks_on_clear=True)  # fmt: skip
        log = await asyncio.wait_for(caller.run(), 30)
        now = asyncio.get_running_loop().time()

    session = site.sessions[0]
    decided = site.events_of(UserSpeechStarted)[1][0]  # the VAD's speech start over the agent
    assert len(log.clears_received) == 1
    cleared = log.clears_received[0]
    assert 0 <= cleared - decided < FRAME, f"clear {1000 * (cleared - decided):.1f} ms after"

    # After the clear, the caller heard nothing until the answer to the interruption.
    second_started = site.events_of(AgentResponseStarted)[1][0]
    assert all(t >= second_started for t in log.media_received if t > cleared)
    assert caller.playback.heard_seconds(second_started, since=cleared) == 0
    assert log.protocol_errors == []

    # The history keeps what the caller heard of the story (word granular), marked interrupted.
    heard_story = caller.playback.heard_seconds(cleared)
    story = session.conversation.history[2]
    assert story.role == "assistant" and story.interrupted
    heard_words = len(story.content.split())
    assert abs(heard_words - heard_story / 0.25) <= 1.5, (story.content, heard_story)
    assert session.conversation.history[3].content.startswith("wait stop")
    assert caller.playback.heard_seconds(now, since=cleared) > 0.7  # "It is sunny." was heard

    barge_in = caller.barge_in_delay(log.utterances[1])
    assert barge_in is not None and barge_in < 0.5
    measured("fakes: barge-in, onset in caller audio to clear received", barge_in * 1000, "ms")
    measured("fakes: barge-in, VAD decision to clear received", (cleared - decided) * 1000, "ms")


async def test_a_backchannel_resumes_where_the_caller_stopped_hearing(measured: Measure) -> None:
    heard = ["can you tell me a short story about a lighthouse", "uh-huh"]
    providers = fake_providers(heard, [STORY])
    async with parley_server(providers) as site:
        caller = site.caller([
            Pause(0.3),
            Speak(speech("question_story"), "question"),
            WaitFor(agent_heard(1.5), what="the story"),
            Speak(speech("backchannel_uh_huh"), "uh-huh"),
            WaitFor(agent_finished(0.5), what="the end of the story"),
            HangUp(),
        ], echo_marks_on_clear=False)  # fmt: skip
        log = await asyncio.wait_for(caller.run(), 30)
        now = asyncio.get_running_loop().time()

    session = site.sessions[0]
    assert len(log.clears_received) == 1  # the pause; no second response, no second clear
    turn = session.turns[0]
    assert turn.status == "completed" and turn.pauses == 1
    story = session.conversation.history[2]
    assert story.content == STORY and not story.interrupted

    # Resumed from where the caller stopped hearing: at most a frame or two heard twice
    # (a mark is echoed when its frame has finished; the server counts a frame from its
    # start). Marks are named "<response>@<end offset>#<serial>", so the first mark after
    # the clear tells where in the story the server resumed.
    cleared = log.clears_received[0]
    heard_before = caller.playback.heard_seconds(cleared)
    first_after = next(name for t, name in log.marks_received if t > cleared)
    resumed_at = float(first_after.split("@")[1].split("#")[0]) - FRAME
    repeated = heard_before - resumed_at
    assert -0.001 <= repeated <= 3 * FRAME, f"{repeated * 1000:.0f} ms heard twice"
    total = caller.playback.heard_seconds(now)
    assert abs(total - repeated - 6.0) < 0.03, f"heard {total:.3f} s, {repeated:.3f} s twice"
    measured("fakes: backchannel, audio heard twice after resuming", repeated * 1000, "ms")


async def test_dtmf_digits_reach_the_conversation_and_are_answered() -> None:
    providers = fake_providers([], ["Thank you, account forty two."])
    async with parley_server(providers) as site:
        caller = site.caller([
            Pause(0.2),
            PressKeys("42#"),
            WaitFor(agent_finished(0.3), what="the answer"),
            HangUp(),
        ])  # fmt: skip
        await asyncio.wait_for(caller.run(), 10)
    assert [e.digit for _, e in site.events_of(UserDtmf)] == ["4", "2", "#"]
    history = site.sessions[0].conversation.history
    assert [m.content for m in history[1:]] == ["[keypad: 42#]", "Thank you, account forty two."]
