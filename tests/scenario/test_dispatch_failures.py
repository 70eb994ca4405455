"""A step of dispatch that fails: an observer's failure changes nothing; an action's failure
ends the call with an error event instead of leaving it running deaf (invariants 7 and 10)."""

from __future__ import annotations

import asyncio

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.events import AgentPaused, AgentResponseDone, ErrorEvent, SessionEnded, SessionEvent
from parley.providers.base import STTStream
from parley.session import Providers, Session
from parley.testing.fakes import EnergyVAD, FakeLLM, FakeSTT, FakeTTS, Fault, FaultKind
from parley.testing.fakes.stt import FakeSTTStream
from parley.testing.memory_transport import (
    HangUp,
    MemoryTransport,
    Say,
    ScriptedCaller,
    Silence,
    Step,
    Wait,
)

from .harness import agent_started_speaking, converse, run_virtual

LONG_REPLY = " ".join(f"word{i}" for i in range(40)) + "."
BARGE_IN: list[Step] = [
    Silence(0.3),
    Say("tell me a long story", 1.0),
    Wait(agent_started_speaking(1), then=1.0),
    Say("no wait stop", 0.8),
    Silence(4.0),
    HangUp(),
]


def test_an_observer_failing_on_agent_paused_does_not_leave_the_call_deaf() -> None:
    failures: list[SessionEvent] = []

    def flaky_observer(event: SessionEvent) -> None:
        if isinstance(event, AgentPaused) and not failures:
            failures.append(event)
            raise RuntimeError("observer bug")

    call = converse(
        BARGE_IN,
        llm=FakeLLM([LONG_REPLY, "Sure, I stopped."]),
        prepare=lambda session: session.observers.append(flaky_observer),
    )

    assert failures, "the observer did fail"
    done = {e.response_id: e.status for _, e in call.events(AgentResponseDone)}
    assert done == {"resp_1": "interrupted", "resp_2": "completed"}  # the interruption answered
    assert call.errors() == []  # an observer's failure is only logged
    assert call.session.end_reason == "caller hung up"
    last = call.session.conversation.history[-1]
    assert last.role == "assistant" and last.content == "Sure, I stopped."


class ClearFails(MemoryTransport):
    """A transport whose first clear raises: an action (PauseOutput) fails half-done."""

    failed_at: float | None = None

    def clear_audio(self) -> None:
        if self.failed_at is None:
            self.failed_at = asyncio.get_running_loop().time()
            raise OSError("clear failed")
        super().clear_audio()


def test_an_action_that_fails_ends_the_call_with_an_error() -> None:
    call = converse(BARGE_IN, llm=FakeLLM([LONG_REPLY, "Sure."]), transport=ClearFails)

    transport = call.transport
    assert isinstance(transport, ClearFails) and transport.failed_at is not None
    errors = [e for _, e in call.events(ErrorEvent)]
    assert [e.code for e in errors] == ["internal_error"]
    assert "OSError" in errors[0].message
    ended = call.events(SessionEnded)
    assert [e.reason for _, e in ended] == ["internal error: OSError"]
    closed_at = call.session.closed_at
    assert closed_at is not None
    assert closed_at - transport.failed_at <= call.session.config.close_deadline_s
    assert closed_at < call.caller.step_start(5)  # long before the caller would hang up
    assert transport.closed
    assert call.tasks_left == set()
    assert max(t for t, _ in transport.sent) <= transport.failed_at  # no audio after it


class PolicyRecordingSTT(FakeSTT):
    """Remembers the policy each stream was opened with."""

    def __init__(self, utterances: list[str | None], faults: list[Fault]) -> None:
        super().__init__(utterances, faults=faults)
        self.policies: list[TurnTakingPolicy] = []

    def stream(self, policy: TurnTakingPolicy) -> STTStream:
        self.policies.append(policy)
        return super().stream(policy)


def test_a_reopened_stt_stream_gets_the_policy_in_force() -> None:
    stt = PolicyRecordingSTT(["hello"], faults=[Fault(FaultKind.RAISE, call=1)])
    new_policy = TurnTakingPolicy(merge_gap_ms=350)
    steps: list[Step] = [Silence(0.3), Say("hello", 1.0), Silence(2.0), HangUp()]

    async def main() -> Session:
        transport = MemoryTransport()
        session = Session(transport, Providers(EnergyVAD(), stt, FakeLLM(), FakeTTS()))

        async def change_policy() -> None:
            await asyncio.sleep(0.1)
            session.update_policy(new_policy)

        async with asyncio.TaskGroup() as group:
            group.create_task(session.run())
            group.create_task(ScriptedCaller(transport, steps).run())
            group.create_task(change_policy())
        return session

    session = run_virtual(main)
    assert session.conversation.policy == new_policy
    assert len(stt.policies) == 2  # the stream failed once and was reopened...
    assert stt.policies[0] == TurnTakingPolicy()
    assert stt.policies[1] == new_policy  # ...with the settings in force, not the first ones


class ChokingStream(FakeSTTStream):
    """Raises on its 10th frame (or every frame from then on), like a client with a bug."""

    def __init__(self, stt: ChokingSTT, call: int) -> None:
        super().__init__(stt, call)
        self.pushes = 0
        self.always = stt.always

    def push_audio(self, frame: AudioFrame) -> None:
        self.pushes += 1
        if self.pushes == 10 or (self.always and self.pushes > 10):
            raise ValueError("choked on a frame")
        super().push_audio(frame)


class ChokingSTT(FakeSTT):
    def __init__(self, utterances: list[str | None], *, always: bool = False) -> None:
        super().__init__(utterances)
        self.always = always
        self.streams: list[ChokingStream] = []

    def stream(self, policy: TurnTakingPolicy) -> STTStream:
        self.streams_opened += 1
        self.streams.append(ChokingStream(self, self.streams_opened))
        return self.streams[-1]


def test_an_inbound_frame_that_cannot_be_handled_is_reported_and_the_call_goes_on() -> None:
    steps: list[Step] = [Silence(0.3), Say("hello", 1.0), Silence(3.0), HangUp()]
    call = converse(steps, stt=ChokingSTT(["hello"]), llm=FakeLLM(["Hi there."]))

    errors = [e for _, e in call.events(ErrorEvent)]
    assert [e.code for e in errors] == ["internal_error"]
    assert "AudioFrame" in errors[0].message and "ValueError" in errors[0].message
    done = [e for _, e in call.events(AgentResponseDone)]
    assert [(d.status, d.text) for d in done] == [("completed", "Hi there.")]
    assert call.session.end_reason == "caller hung up"


def test_an_input_path_that_fails_on_every_frame_is_reported_sparsely() -> None:
    steps: list[Step] = [Silence(0.3), Say("hello", 1.0), Silence(1.0), HangUp()]
    stt = ChokingSTT(["hello"], always=True)
    call = converse(steps, stt=stt)

    (stream,) = stt.streams
    failed = stream.pushes - 9  # every frame from the 10th on
    assert failed > 100
    # Reported on the 1st, 2nd, 4th, 8th... failure: one error per power of two.
    assert call.errors() == ["internal_error"] * failed.bit_length()
    assert call.session.end_reason == "caller hung up"  # open until the caller hung up
