"""The desktop transport on fake devices: a question gets an answer on the speaker, speech
over the answer stops it, and hanging up silences the speaker from the next block on."""

from __future__ import annotations

import asyncio

import numpy as np

from parley.events import AgentResponseDone, AgentSpeaking
from tests.desktop.harness import DesktopCall, VoiceTTS, run_virtual, speech

BLOCK = 0.02


def test_a_question_gets_an_answer_on_the_speaker() -> None:
    call = DesktopCall()

    async def script(c: DesktopCall) -> None:
        await asyncio.sleep(0.5)
        c.devices.say(speech())
        await c.until(lambda: bool(c.of(AgentResponseDone)))
        c.transport.hang_up()

    run_virtual(lambda: call.run(script))
    ((_, done),) = call.of(AgentResponseDone)
    assert done.status == "completed" and done.text
    ((spoke_at, _),) = call.of(AgentSpeaking)
    heard = call.devices.speaker_samples(since=spoke_at)
    assert np.count_nonzero(heard) > 0.9 * len(done.text.split()) * 0.25 * 16000


def test_speech_over_the_answer_stops_it() -> None:
    # A voice at a voice's level: the fake TTS's full-scale sawtooth (-4.8 dBFS) is louder
    # than any voice, and the echo gate compares speech over the agent with its level.
    call = DesktopCall(tts=VoiceTTS(speech("question_story.wav")))
    said_at: list[float] = []

    async def script(c: DesktopCall) -> None:
        c.devices.say(speech())
        await c.until(lambda: bool(c.of(AgentSpeaking)))
        await asyncio.sleep(1.5)  # the echo gate has learnt the room (1 s of the agent)
        said_at.append(asyncio.get_running_loop().time())
        c.devices.say(speech("interrupt_wait.wav"))
        await c.until(lambda: bool(c.of(AgentResponseDone)))
        await asyncio.sleep(0.5)
        c.transport.hang_up()

    run_virtual(lambda: call.run(script))
    (_, first), *_ = call.of(AgentResponseDone)
    assert first.status == "interrupted"
    # Silence on the speaker soon after the speech began (the VAD's start delay, a block).
    quiet_from = next(
        b.at for b in call.devices.played if b.at > said_at[0] and not b.samples.any()
    )
    assert quiet_from - said_at[0] < 0.5


def test_hangup_silences_the_speaker_from_the_next_block_and_closes() -> None:
    call = DesktopCall()
    marks: dict[str, float] = {}

    async def script(c: DesktopCall) -> None:
        c.devices.say(speech())
        await c.until(lambda: bool(c.of(AgentSpeaking)))
        await asyncio.sleep(0.51)
        loop = asyncio.get_running_loop()
        marks["key"] = loop.time()
        c.transport.hang_up()
        c.transport.hang_up()  # again: harmless

    run_virtual(lambda: call.run(script))
    assert call.session is not None and call.session.closed_at is not None
    # Nothing audible from the key on (the device itself is stopped at the close).
    after = [b for b in call.devices.played if b.at >= marks["key"]]
    assert not any(b.samples.any() for b in after)
    before = [b for b in call.devices.played if marks["key"] - 0.1 <= b.at < marks["key"]]
    assert all(b.samples.any() for b in before)  # it was speaking up to the key
    assert call.session.closed_at - marks["key"] < 2.0
