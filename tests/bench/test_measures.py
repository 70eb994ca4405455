"""What the benchmark computes from a caller's log, and how it reports it, on made-up logs."""

from __future__ import annotations

from parley.benchmarks.caller import answered, frame_lateness, old_audio_heard_until
from parley.benchmarks.capacity import memory_per_call
from parley.benchmarks.pipecat_services import chat_messages
from parley.benchmarks.report import fmt, machine, markdown, ratio
from parley.benchmarks.results import (
    BenchReport,
    CapacityLevel,
    Distribution,
    FrameworkResults,
    Hangup,
)
from parley.benchmarks.spec import Latencies
from parley.testing.twilio_caller.fake_caller import FakeCaller, Utterance
from parley.types import ChatMessage

RATE = 8000


def audio(seconds: float) -> bytes:
    return b"\x10\x00" * round(seconds * RATE)


def caller() -> FakeCaller:
    return FakeCaller("ws://127.0.0.1:9/twilio/media", [])


def test_old_audio_ends_at_the_clear_that_followed_the_onset() -> None:
    line = caller()
    line.playback.add_audio(0.0, audio(3.0))  # 3 s queued at once
    line.playback.clear(1.0)
    line.log.clears_received.append(1.0)
    assert old_audio_heard_until(line, onset=0.8, earliest_answer=2.0) == 1.0


def test_audio_arriving_after_the_clear_but_too_early_to_be_an_answer_counts_as_old() -> None:
    line = caller()
    line.playback.add_audio(0.0, audio(3.0))
    line.playback.clear(1.0)
    line.log.clears_received.append(1.0)
    line.playback.add_audio(1.2, audio(0.2))  # stale audio leaking after the clear
    line.playback.add_audio(2.5, audio(1.0))  # the answer
    assert abs(old_audio_heard_until(line, onset=0.8, earliest_answer=2.0) - 1.4) < 1e-9


def test_without_a_clear_the_old_audio_plays_on() -> None:
    line = caller()
    line.playback.add_audio(0.0, audio(3.0))
    assert old_audio_heard_until(line, onset=0.8, earliest_answer=2.0) == 3.0


def test_nothing_playing_at_the_onset_means_nothing_old_was_heard() -> None:
    line = caller()
    line.playback.add_audio(0.0, audio(0.5))
    assert old_audio_heard_until(line, onset=0.8, earliest_answer=2.0) == 0.8


def test_frame_lateness_is_how_long_after_the_listener_needed_it_a_frame_came() -> None:
    line = caller()
    line.log.utterances.append(Utterance("q", 0.0, 1.0, 0.2, 0.9))
    for arrival in (1.50, 1.52, 1.54, 1.59, 1.60):  # 20 ms frames; the fourth is 30 ms late
        line.playback.add_audio(arrival, audio(0.02))
        line.log.media_received.append(arrival)
    late = frame_lateness(line)
    assert len(late) == 4  # the first frame of a response is latency, not lateness
    assert [round(x * 1000) for x in late] == [0, 0, 30, 0]
    assert answered(line, within=1.0) == [True]
    assert answered(line, within=0.5) == [False]


def test_distributions_are_in_milliseconds_and_skip_missing_values() -> None:
    dist = Distribution.of_seconds([0.1, None, 0.2, 0.3, 0.4])
    assert dist.n == 4 and dist.max == 400
    assert dist.p50 is not None and abs(dist.p50 - 250) < 1e-6
    assert Distribution.of_seconds([None]).n == 0


def test_ratios_and_formatting() -> None:
    ours, theirs = Distribution.of_seconds([0.1, 0.1]), Distribution.of_seconds([0.2, 0.4])
    assert ratio(ours, theirs) == "0.33× · 0.26×"  # p50s 100 and 300 ms; p95s 100, 390
    assert ratio(40, 20) == "2.00×"
    assert ratio(None, 20) == "–"
    assert fmt(1900.0) == "1.90 s" and fmt(12.4) == "12 ms" and fmt(3, "calls") == "3 calls"
    assert fmt(Distribution.of_seconds([0.1])) == "100 ms (n=1)"


def level(calls: int, rss_mb: float, passed: bool = True) -> CapacityLevel:
    return CapacityLevel(calls=calls, lateness=Distribution(n=0), answered=calls,
                         utterances=calls, voice_to_voice=Distribution(n=0), peak_rss_mb=rss_mb,
                         rss_before_mb=0, cpu_percent=0, caller_lateness_p99_ms=None, errors=0,
                         smooth=passed, passed=passed, harness_limited=False)  # fmt: skip


def test_memory_per_call_is_the_slope_from_one_call_to_the_highest_level_passed() -> None:
    # The rising sweep passed 1, 10 and 80 calls and failed at 120; the refining levels
    # (100 passed) start from the heap the 120 calls grew, and are left out.
    levels = [level(1, 120.0), level(10, 130.0), level(80, 160.0), level(120, 200.0, False),
              level(100, 210.0), level(110, 215.0, False)]  # fmt: skip
    per_call = memory_per_call(levels)
    assert per_call is not None and abs(per_call - 40 / 79) < 1e-9
    assert memory_per_call([level(2, 150.0)]) is None  # one level: no slope
    assert memory_per_call([level(1, 150.0), level(10, 160.0, False)]) is None
    assert memory_per_call([level(1, 150.0, False), level(10, 160.0)]) is None


def test_the_markdown_table_has_a_ratio_column_only_beside_pipecat() -> None:
    hangup = Hangup(close_hang_s=10, closed=Distribution.of_seconds([1.9, 1.9]), not_closed=0,
                    waited_s=30)  # fmt: skip
    results = {
        "parley": FrameworkResults(framework="parley", version="0", hangup=hangup),
        "pipecat": FrameworkResults(framework="pipecat", version="1", hangup=hangup),
    }
    report = BenchReport(mode="test", started="now", duration_s=1, machine=machine(),
                         latencies=Latencies(), policy={"vad_threshold": 0.5,
                         "min_interruption_ms": 80, "min_silence_ms": 500, "merge_gap_ms": 200},
                         notes=["a note"], results=results)  # fmt: skip
    both = markdown(report)
    assert "| Hangup: `stop` to session fully closed, LLM and TTS hanging | 1.90 s" in both
    assert "| 1.00× · 1.00× |" in both and "- a note" in both
    del results["pipecat"]
    alone = markdown(report.model_copy(update={"results": results}))
    assert "Pipecat" not in alone.split("\n\n")[1]


def test_pipecat_context_messages_become_chat_messages() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image"}]},
        {"role": "tool", "content": "ignored"},
        "not a message",
    ]
    assert chat_messages(messages) == [
        ChatMessage("system", "be brief"),
        ChatMessage("user", "hi"),
    ]
