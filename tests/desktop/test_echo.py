"""Echo: the agent's own voice comes back into the microphone (at `ECHO_GAIN` of the speaker
signal, 40 ms later, as from a speaker beside the microphone). With the echo canceller there
is no self-interruption over 20 answers, and a real interruption over the echo still stops
the agent; without it the agent interrupts itself (the check that the measure can fail)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from parley.events import AgentPaused, AgentResponseDone, AgentSpeaking
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


def test_no_self_interruption_over_20_answers_and_a_real_one_still_stops_it() -> None:
    call = DesktopCall(echo_gain=ECHO_GAIN, tts=VoiceTTS(speech("question_story.wav")))
    run_virtual(lambda: call.run(answers(ANSWERS + 1, interrupt_last=True)))
    done = [e for _, e in call.of(AgentResponseDone)]
    assert [d.status for d in done[:ANSWERS]] == ["completed"] * ANSWERS
    assert len(call.of(AgentPaused)) == 1  # the real interruption, nothing else
    assert done[ANSWERS].status == "interrupted"


def test_without_the_canceller_the_agent_interrupts_itself() -> None:
    call = DesktopCall(
        echo_gain=ECHO_GAIN, cancel_echo=False, tts=VoiceTTS(speech("question_story.wav"))
    )

    async def script(c: DesktopCall) -> None:
        c.devices.say(speech())
        await c.until(lambda: bool(c.of(AgentPaused)), limit=20)
        c.transport.hang_up()

    run_virtual(lambda: call.run(script))
    assert call.of(AgentPaused)
