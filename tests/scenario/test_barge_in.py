"""Invariants 2 and 3: barge-in stops agent audio within a frame; stale audio never plays."""

from __future__ import annotations

from parley.events import AgentResponseDone, UserSpeechStarted
from parley.testing.fakes import FakeLLM, FakeTTS
from parley.testing.memory_transport import HangUp, Say, Silence, Step, Wait
from tests.conftest import Measure

from .harness import FRAME, agent_started_speaking, contiguous, converse

LONG_REPLY = " ".join(f"word{i}" for i in range(40)) + "."


def test_barge_in_clears_within_one_frame_and_no_old_audio_follows(measured: Measure) -> None:
    # 10 s of audio generated at 2x real time, and a TTS that ignores cancellation for 2 s.
    tts = FakeTTS(chunk_latency=0.05, linger_after_cancel=2.0)
    steps: list[Step] = [
        Silence(0.3),
        Say("tell me a long story", 1.0),
        Wait(agent_started_speaking(1), then=1.5),
        Say("no wait stop", 0.8),
        Silence(4.0),
        HangUp(),
    ]
    call = converse(steps, llm=FakeLLM([LONG_REPLY, "Sure."]), tts=tts)

    # The decision: the VAD's speech start over the agent, the second one of the call.
    decided_at = [t for t, _ in call.events(UserSpeechStarted)][1]
    clear_at = next(t for t in call.transport.clears if t >= decided_at)
    last_old_frame = max(call.sent_times("resp_1"))
    assert clear_at - decided_at < FRAME, f"clear {1000 * (clear_at - decided_at):.1f} ms after"
    assert last_old_frame - decided_at < FRAME
    assert last_old_frame <= decided_at  # nothing of resp_1 was sent after the decision

    # The TTS kept producing audio for resp_1 after the cancellation; all of it was dropped.
    assert tts.chunks_after_cancel >= 10
    assert call.session.output.stale_chunks_dropped >= tts.chunks_after_cancel
    heard_old = [p for p in call.transport.listener.heard if p.frame.response_id == "resp_1"]
    assert max(p.at for p in heard_old) <= decided_at
    # By content, not only by tag: each response's audio is one unbroken count of its own.
    assert contiguous(call.transport.listener.heard_samples("resp_1"))
    assert contiguous(call.transport.listener.heard_samples("resp_2"))

    done = {e.response_id: e for _, e in call.events(AgentResponseDone)}
    assert done["resp_1"].status == "interrupted"
    assert done["resp_2"].status == "completed"  # the agent answered the interruption
    report = call.session.turns[0]
    assert report.interruption_decided is not None and report.output_stopped is not None
    assert report.output_stopped - decided_at < FRAME
    measured("barge-in: VAD decision to clear sent", (clear_at - decided_at) * 1000, "ms")
    after = sum(t > decided_at for t in call.sent_times("resp_1"))
    measured("barge-in: old-response frames sent after the decision", after, "frames")
    measured("barge-in: TTS chunks produced after cancellation", tts.chunks_after_cancel, "chunks")
    unheard = (decided_at - max(p.at for p in heard_old)) * 1000
    measured("barge-in: last old frame heard, before the decision by", unheard, "ms")
