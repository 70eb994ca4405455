"""Partials while paused, over a whole-utterance STT (Whisper's kind), on the virtual clock.

The STT is scripted (each run takes `latency` and hears the words of the voiced audio it is
given) but streams through the real UtteranceSTTStream, told by the session when the agent is
paused. A backchannel's words come from a run made while the person speaks, so the agent goes
on without waiting for a transcription after the speech; words that cannot be a backchannel
interrupt as soon as a run shows them; the final, over all the speech, still decides.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from parley.events import (
    AgentPaused,
    AgentResponseDone,
    AgentResumed,
    UserSpeechStarted,
    UserSpeechStopped,
)
from parley.session import Providers, Session, SessionConfig
from parley.testing.fakes import EnergyVAD, FakeLLM, FakeTTS, ScriptedUtteranceSTT
from parley.testing.memory_transport import (
    HangUp,
    MemoryTransport,
    Say,
    ScriptedCaller,
    Silence,
    Step,
    Wait,
)
from tests.conftest import Measure

from .harness import FRAME, agent_started_speaking, contiguous, run_virtual

REPLY = " ".join(f"word{i}" for i in range(20)) + "."
REPLY_SAMPLES = 20 * 4000  # 20 words x 0.25 s at 16 kHz


@dataclass
class Call:
    transport: MemoryTransport
    stt: ScriptedUtteranceSTT
    llm: FakeLLM

    def times(self, kind: type[object]) -> list[float]:
        return [t for t, _ in self.transport.events_of(kind)]


def _call(said: list[Step], stt: ScriptedUtteranceSTT) -> Call:
    """The person asks, the agent answers at length, then `said` over the agent."""
    steps: list[Step] = [
        Silence(0.3),
        Say("explain something", 1.0),
        Wait(agent_started_speaking(1), then=1.0),
        *said,
        Silence(8.0),
        HangUp(),
    ]
    llm = FakeLLM([REPLY, "Sure."])

    async def main() -> Call:
        transport = MemoryTransport(16000)
        session = Session(transport, Providers(EnergyVAD(), stt, llm, FakeTTS()), SessionConfig())
        async with asyncio.TaskGroup() as group:
            group.create_task(session.run())
            group.create_task(ScriptedCaller(transport, steps).run())
        transport.listener.settle(asyncio.get_running_loop().time())
        return Call(transport, stt, llm)

    return run_virtual(main)


def _stt(utterances: list[str], latency: float, partials: bool) -> ScriptedUtteranceSTT:
    return ScriptedUtteranceSTT(
        utterances, latency=latency, paused_partial_delay=0.2 if partials else None
    )


def _backchannel(latency: float, partials: bool) -> tuple[Call, float]:
    """A 0.4 s "yeah": the call, and the silence from its last voiced audio to the resume."""
    call = _call([Say("yeah", 0.4)], _stt(["explain something", "yeah"], latency, partials))
    assert len(call.llm.calls) == 1  # nothing answered: the agent went on
    heard = call.transport.listener.heard_samples("resp_1")
    assert len(heard) == REPLY_SAMPLES and contiguous(heard)  # nothing lost or repeated
    [resumed] = call.times(AgentResumed)
    last_voiced = call.transport.events_of(UserSpeechStopped)[1][1].at
    return call, resumed - last_voiced


@pytest.mark.parametrize("latency", [0.3, 0.45])
def test_a_backchannel_resumes_on_a_partial_made_while_the_person_spoke(
    latency: float, measured: Measure
) -> None:
    call, after = _backchannel(latency, partials=True)
    _, before = _backchannel(latency, partials=False)
    # The first partial starts 0.2 s into the speech, 0.3 s into the 0.4 s "yeah", and says
    # it: the agent goes on when it comes, not a whole transcription after the silence.
    first = call.stt.runs[1]
    assert first.text == "yeah" and first.voiced < 0.4
    assert after < before - 0.15
    assert after <= max(latency - 0.1, 0.15) + 2 * FRAME
    assert call.stt.most_running == 1
    for name, value in [("before", before), ("partials", after)]:
        measured(f"whole-utterance STT, {latency * 1000:.0f} ms a run, 0.4 s 'yeah': last voiced "
                 f"audio to resume ({name})", value * 1000, "ms")  # fmt: skip


def test_partials_run_only_while_the_agent_is_paused() -> None:
    """The question before the answer and the backchannel's final cost one run each; only
    the backchannel, said over the agent, got partials (and they ran one at a time)."""
    call, _ = _backchannel(0.45, partials=True)
    [stream] = call.stt.streams
    assert stream.partial_runs >= 1
    question = [r for r in call.stt.runs if r.started < call.times(AgentPaused)[0]]
    assert len(question) == 1  # the question's final (its guess), no partials
    assert call.stt.most_running == 1


@pytest.mark.parametrize("latency", [0.45, 1.0])
def test_a_real_interruption_is_not_slower_and_keeps_every_word(
    latency: float, measured: Measure
) -> None:
    """ "wait stop now" over the agent: a partial shows "wait" while the person still
    speaks, so the agent is interrupted sooner, and the turn answered is every word."""
    cancel: dict[bool, float] = {}
    for partials in (False, True):
        stt = _stt(["explain something", "wait stop now"], latency, partials)
        call = _call([Say("wait stop now", 1.2)], stt)
        done = {e.response_id: e.status for _, e in call.transport.events_of(AgentResponseDone)}
        assert done == {"resp_1": "interrupted", "resp_2": "completed"}
        assert call.llm.calls[1][-1].content == "wait stop now"
        assert call.times(AgentResumed) == []
        onset = call.transport.events_of(UserSpeechStarted)[1][1].at
        cancel[partials] = call.times(AgentResponseDone)[0] - onset
    assert cancel[True] < cancel[False]
    for name, value in [("before", cancel[False]), ("partials", cancel[True])]:
        measured(f"whole-utterance STT, {latency * 1000:.0f} ms a run, 'wait stop now': onset to "
                 f"cancel ({name})", value * 1000, "ms")  # fmt: skip


@pytest.mark.parametrize("gap", [0.0, 0.25])
def test_words_after_a_backchannel_start_are_never_swallowed(gap: float) -> None:
    """ "yeah but wait", in one breath or with a short pause: however the runs fall, the
    agent ends up interrupted and the turn answered is every word."""
    said: list[Step] = (
        [Say("yeah but wait", 1.0)] if not gap else
        [Say("yeah", 0.4), Silence(gap), Say("but wait", 0.6)]
    )  # fmt: skip
    script = ["explain something", "yeah but wait"] if not gap else [
        "explain something", "yeah", "but wait"]  # fmt: skip
    for latency in (0.3, 0.45, 1.0):
        call = _call(said, _stt(script, latency, partials=True))
        done = {e.response_id: e.status for _, e in call.transport.events_of(AgentResponseDone)}
        assert done == {"resp_1": "interrupted", "resp_2": "completed"}, (gap, latency)
        asked = call.llm.calls[1][-1].content
        assert "but wait" in asked, (gap, latency, asked)


def test_a_stale_partial_that_resumed_is_overruled_by_the_final() -> None:
    """On a slow machine (1 s a run) the only partial of "yeah stop" heard "yeah"; it comes
    after the paused decision ended the speech and resumes the agent, but the final hears
    "yeah stop": the agent pauses again and is interrupted, and the words are answered."""
    stt = _stt(["explain something", "yeah stop"], 1.0, partials=True)
    call = _call([Say("yeah stop", 0.7)], stt)
    assert [r.text for r in stt.runs[1:3]] == ["yeah", "yeah stop"]
    assert len(call.times(AgentResumed)) == 1
    assert len(call.times(AgentPaused)) == 2
    done = {e.response_id: e.status for _, e in call.transport.events_of(AgentResponseDone)}
    assert done == {"resp_1": "interrupted", "resp_2": "completed"}
    assert call.llm.calls[1][-1].content == "yeah stop"
