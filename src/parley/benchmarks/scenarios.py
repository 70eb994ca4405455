"""The single-call scenarios: barge-in, input gap, hangup, overhead.

Each starts its own server (the fakes' replies and faults differ per scenario), places its
call(s) with real speech, and reads the measurements off the caller's log and the server's
events. A call that goes wrong (a wait that times out, a server that fails) still yields what
was measured up to then, with the error noted.
"""

from __future__ import annotations

import asyncio
import itertools

from parley.benchmarks.caller import (
    INTERRUPTION,
    OTHER_QUESTION,
    QUESTION,
    STORY_QUESTION,
    BenchCaller,
    clip,
    old_audio_heard_until,
)
from parley.benchmarks.events import Event, wait_for_event
from parley.benchmarks.plan import Setup
from parley.benchmarks.process import ServerProcess
from parley.benchmarks.results import BargeIn, Distribution, Hangup, InputGap, Overhead
from parley.testing.twilio_caller.fake_caller import (
    CallerStep,
    FakeCaller,
    HangUp,
    Pause,
    Speak,
    Utterance,
    WaitFor,
    agent_finished,
    agent_heard,
)

# 26 words of 250 ms: 6.5 s of speech. Its first sentence is 13 words (tokens).
STORY = (
    "Once upon a time a lighthouse keeper lived alone on a small island. Every night he "
    "climbed the stairs to light the lamp for passing ships."
)
SHORT = "Sure thing. It is nine."  # 1.25 s; its first sentence is 2 tokens
# 26 s of speech: the TTS (10 times faster than real time) is still synthesizing when the
# caller barges in after a second, so its stream is open and has to be closed.
LONG_STORY = " ".join([STORY] * 4)
WAIT = 15.0  # longest wait for an answer the scenario needs


async def place(caller: FakeCaller, limit: float) -> str | None:
    """Run the call; the error that ended it early, if any (its log is kept either way)."""
    try:
        await asyncio.wait_for(caller.run(), limit)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def labelled(caller: FakeCaller, prefix: str) -> list[Utterance]:
    return [u for u in caller.log.utterances if u.label.startswith(prefix)]


def first_audio_after(caller: FakeCaller, moment: float) -> float | None:
    """When the first agent audio that arrived after `moment` arrived."""
    return next((c.received for c in caller.playback.chunks if c.received >= moment), None)


async def barge_in(setup: Setup) -> BargeIn:
    fake = setup.latencies.fake_settings([STORY])
    script: list[CallerStep] = [Pause(0.3), Speak(clip(STORY_QUESTION), "question")]
    for index in range(setup.plan.barge_ins):
        script += [
            WaitFor(agent_heard(1.0), limit=WAIT, what="the story"),
            Speak(clip(INTERRUPTION), f"barge-in {index}"),
        ]
    script += [WaitFor(agent_heard(0.5), limit=WAIT, what="the last answer"), HangUp()]
    async with setup.serve("barge-in", fake) as server:
        caller = BenchCaller(server.media_url, script)
        error = await place(caller, 60 + 10 * setup.plan.barge_ins)
    to_clear, to_heard = [], []
    for utterance in labelled(caller, "barge-in"):
        if utterance.onset is None or utterance.speech_end is None:
            continue
        to_clear.append(caller.barge_in_delay(utterance))
        earliest = utterance.speech_end + setup.policy.min_silence_ms / 1000
        to_heard.append(old_audio_heard_until(caller, utterance.onset, earliest) - utterance.onset)
    return BargeIn(
        to_clear=Distribution.of_seconds(to_clear),
        to_last_heard=Distribution.of_seconds(to_heard),
        without_clear=sum(1 for d in to_clear if d is None),
        error=error,
    )


async def input_gap(setup: Setup) -> InputGap:
    hang = setup.plan.input_gap_close_s
    fake = setup.latencies.fake_settings([LONG_STORY], tts_close_delay_ms=round(1000 * hang))

    def hang_over(caller: FakeCaller, now: float) -> bool:
        return now >= caller.log.utterances[-1].ended + hang + 3.0  # and time to answer

    script: list[CallerStep] = [
        Pause(0.3),
        Speak(clip(STORY_QUESTION), "question"),
        WaitFor(agent_heard(1.0), limit=WAIT, what="the story"),
        Speak(clip(INTERRUPTION), "barge-in"),
        WaitFor(hang_over, limit=hang + 8, what="the end of the hung close"),
        HangUp(),
    ]
    async with setup.serve("input-gap", fake) as server:
        caller = BenchCaller(server.media_url, script)
        error = await place(caller, WAIT + hang + 30)
        closed = await closed_event(server, caller, hang + 10)
    barge = next(iter(labelled(caller, "barge-in")), None)
    to_clear = answer = None
    if barge is not None and barge.onset is not None and barge.speech_end is not None:
        to_clear = caller.barge_in_delay(barge)
        earliest = barge.speech_end + setup.policy.min_silence_ms / 1000
        old_end = old_audio_heard_until(caller, barge.onset, earliest)
        after = first_audio_after(caller, max(old_end, earliest))
        answer = None if after is None else after - barge.speech_end
    sent = [t for _, t in caller.log.frames]
    send_gap = max((b - a for a, b in itertools.pairwise(sent)), default=None)
    gap = closed.get("stt_max_gap") if closed else None
    return InputGap(
        close_hang_s=hang,
        max_gap_ms=None if gap is None else 1000 * gap,
        stt_frames=int(closed.get("stt_frames", 0)) if closed else 0,
        caller_max_send_gap_ms=None if send_gap is None else 1000 * send_gap,
        barge_in_to_clear_ms=None if to_clear is None else 1000 * to_clear,
        answer_after_barge_in_ms=None if answer is None else 1000 * answer,
        error=error or (None if closed else "the server reported no closed call"),
    )


async def hangup(setup: Setup) -> Hangup:
    hang = setup.plan.hangup_close_s
    fake = setup.latencies.fake_settings(
        [STORY],
        llm_hang_after_tokens=14,  # the first sentence, and one word of the next
        llm_close_delay_ms=round(1000 * hang),
        tts_hang_after_chunks=20,  # 2 s of audio
        tts_close_delay_ms=round(1000 * hang),
    )
    wait = 2 * hang + 10

    async def one_call(server: ServerProcess, start_after: float) -> tuple[float | None, str]:
        caller = BenchCaller(server.media_url, [
            Pause(0.3 + start_after),
            Speak(clip(QUESTION), "question"),
            WaitFor(agent_heard(1.0), limit=WAIT, what="the answer"),
            HangUp(),
        ])  # fmt: skip
        error = await place(caller, WAIT + 20)
        event = await closed_event(server, caller, wait)
        stop = caller.stop_sent_at
        closed = None if event is None or stop is None else float(event["at"]) - stop
        return closed, error or ""

    async with setup.serve("hangup", fake) as server:
        # The calls overlap (each starts a second after the one before) so that the hung
        # closes are waited out together; each call's close is measured on its own.
        calls = [one_call(server, float(i)) for i in range(setup.plan.hangups)]
        outcomes = await asyncio.gather(*calls)
    closed = [c for c, _ in outcomes]
    errors = [e for _, e in outcomes if e]
    return Hangup(
        close_hang_s=hang,
        closed=Distribution.of_seconds(closed),
        not_closed=sum(1 for c in closed if c is None),
        waited_s=wait,
        error="; ".join(errors) or None,
    )


async def overhead(setup: Setup) -> Overhead:
    latencies, policy = setup.latencies, setup.policy
    stated_s = (
        policy.min_silence_ms
        + max(policy.merge_gap_ms, latencies.stt_final_ms)
        + latencies.first_sentence_ms(SHORT)
        + latencies.tts_first_byte_ms
    ) / 1000
    questions = (QUESTION, OTHER_QUESTION)
    script: list[CallerStep] = [Pause(0.3)]
    for turn in range(setup.plan.overhead_turns):
        script += [
            Speak(clip(questions[turn % 2]), f"turn {turn}"),
            WaitFor(agent_finished(0.5), limit=WAIT, what="the answer"),
        ]
    script.append(HangUp())
    fake = setup.latencies.fake_settings([SHORT])
    async with setup.serve("overhead", fake) as server:
        caller = BenchCaller(server.media_url, script)
        error = await place(caller, 30 + 10 * setup.plan.overhead_turns)
    v2v = [caller.voice_to_voice(u) for u in caller.log.utterances]
    return Overhead(
        stated_ms=1000 * stated_s,
        voice_to_voice=Distribution.of_seconds(v2v),
        overhead=Distribution.of_seconds([None if v is None else v - stated_s for v in v2v]),
        error=error,
    )


async def closed_event(server: ServerProcess, caller: FakeCaller, within: float) -> Event | None:
    """The server's `call_closed` event for this caller's call (None: none within `within`)."""
    sid = caller.call_sid
    return await wait_for_event(
        server.spec.events, lambda e: e["event"] == "call_closed" and e["call_sid"] == sid, within
    )


SCENARIOS = {
    "barge_in": barge_in,
    "input_gap": input_gap,
    "hangup": hangup,
    "overhead": overhead,
}
