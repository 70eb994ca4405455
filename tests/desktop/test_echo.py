"""Echo: the agent's own voice comes back into the microphone (at `ECHO_GAIN` of the speaker
signal, 40 ms later, as from a speaker beside the microphone). With the echo canceller there
is no self-interruption over 20 answers, and a real interruption over the echo still stops
the agent; without it the agent interrupts itself (the check that the measure can fail)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np

from parley.audio.frames import AudioFrame, rms_dbfs
from parley.events import AgentPaused, AgentResponseDone, AgentSpeaking
from tests.conftest import Measure
from tests.desktop.harness import DesktopCall, VoiceTTS, run_virtual, speech

ECHO_GAIN = 0.5  # the echo 6 dB under the speaker signal: louder than most rooms
ANSWERS = 20


def answers(
    count: int, interrupt_last: bool = False
) -> Callable[[DesktopCall], Coroutine[Any, Any, None]]:
    """The person asks `count` questions, each after the last answer ended."""

    async def script(c: DesktopCall) -> None:
        for n in range(1, count + 1):
            c.devices.say(speech())
            if n == count and interrupt_last:
                await c.until(lambda: len(c.of(AgentSpeaking)) >= n)  # noqa: B023
                await asyncio.sleep(1.0)
                c.devices.say(speech("interrupt_wait.wav"))
            await c.until(lambda: len(c.of(AgentResponseDone)) >= n, limit=60)  # noqa: B023
            await asyncio.sleep(0.5)
        c.transport.hang_up()

    return script


def test_no_self_interruption_over_20_answers_and_a_real_one_still_stops_it(
    measured: Measure,
) -> None:
    call = DesktopCall(echo_gain=ECHO_GAIN, tts=VoiceTTS(speech("question_story.wav")))
    call.transport.keep_audio = True
    run_virtual(lambda: call.run(answers(ANSWERS + 1, interrupt_last=True)))
    done = [e for _, e in call.of(AgentResponseDone)]
    assert [d.status for d in done[:ANSWERS]] == ["completed"] * ANSWERS
    assert len(call.of(AgentPaused)) == 1  # the real interruption, nothing else
    assert done[ANSWERS].status == "interrupted"
    # How much echo the canceller took out: the microphone where the person was silent
    # (echo only), before and after it (both 16 kHz, block for block).
    raw = call.devices.captured
    cleaned = [f.as_array() for f in call.transport.heard_mic]
    quiet = [i for i in range(min(len(raw), len(cleaned))) if not call.devices.voiced[i]]
    echo = sum(float(np.sum(raw[i].astype(float) ** 2)) for i in quiet)
    left = sum(float(np.sum(cleaned[i].astype(float) ** 2)) for i in quiet)
    loudest = max(rms_dbfs(call.transport.heard_mic[i]) for i in quiet)
    loudest_echo = max(rms_dbfs(AudioFrame(raw[i].tobytes(), 16000)) for i in quiet)
    measured("desktop echo: loudest 20 ms block of echo", loudest_echo, "dBFS")
    measured("desktop echo: echo removed by the canceller (ERLE)", 10 * np.log10(echo / left), "dB")
    measured("desktop echo: loudest 20 ms block left (energy VAD at -40)", loudest, "dBFS")
    measured("desktop echo: self-interruptions over 20 answers", len(call.of(AgentPaused)) - 1, "")
    assert call.transport.gate is not None
    measured("desktop echo: blocks the gate silenced behind it", call.transport.gate.gated, "")


def test_without_the_canceller_and_the_gate_the_agent_interrupts_itself() -> None:
    call = DesktopCall(
        echo_gain=ECHO_GAIN,
        cancel_echo=False,
        gate=False,
        tts=VoiceTTS(speech("question_story.wav")),
    )

    async def script(c: DesktopCall) -> None:
        c.devices.say(speech())
        await c.until(lambda: bool(c.of(AgentPaused)), limit=20)
        c.transport.hang_up()

    run_virtual(lambda: call.run(script))
    assert call.of(AgentPaused)


def test_the_fallback_gate_alone_keeps_the_echo_out_and_lets_louder_speech_in() -> None:
    """No canceller (its package missing): the gate at 0 dB. The echo (6 dB under the
    speaker) never interrupts; speech louder than the agent does."""
    call = DesktopCall(
        echo_gain=ECHO_GAIN, cancel_echo=False, tts=VoiceTTS(speech("question_story.wav"))
    )
    loud = speech("interrupt_wait.wav")
    peak = float(np.abs(loud.as_array()).max())
    louder = AudioFrame.from_float(loud.as_float() * (30000 / peak), loud.sample_rate)

    async def script(c: DesktopCall) -> None:
        for n in range(1, 6):
            c.devices.say(speech())
            if n == 5:
                await c.until(lambda: len(c.of(AgentSpeaking)) >= 5)
                await asyncio.sleep(1.0)
                c.devices.say(louder)
            await c.until(lambda: len(c.of(AgentResponseDone)) >= n, limit=60)  # noqa: B023
            await asyncio.sleep(0.5)
        c.transport.hang_up()

    run_virtual(lambda: call.run(script))
    done = [e.status for _, e in call.of(AgentResponseDone)]
    assert done[:5] == ["completed"] * 4 + ["interrupted"]
    assert len(call.of(AgentPaused)) == 1
