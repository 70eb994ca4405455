"""The per-call observer: a turn goes to the writer as soon as both its timings and what was
heard have come (in either order), times become seconds from the call's start, and what a
client sent is made storable (no NUL for PostgreSQL, bounded lengths)."""

from __future__ import annotations

import asyncio

from parley.events import (
    AgentResponseDone,
    AgentResponseStarted,
    AgentResumed,
    AgentTranscript,
    ErrorEvent,
    SessionEnded,
    TurnMetrics,
)
from parley.records.observer import CallObserver
from parley.records.rows import CallClosed, ErrorMet, TurnEnded, Write
from parley.timing import TurnTimings

from .rows import T0


async def test_turns_are_handed_over_as_they_end_in_either_order() -> None:
    start = asyncio.get_running_loop().time() - 10.0  # the call started 10 s ago
    written: list[Write] = []

    def put(row: Write) -> bool:
        written.append(row)
        return True

    observe = CallObserver("c" * 32, T0, start, put)
    for rid in ("r1", "r2", "r3"):
        observe(AgentResponseStarted(rid))
        observe(AgentTranscript(rid, f"{rid} first."))
        observe(AgentTranscript(rid, f"{rid} second."))
    observe(AgentResumed("r1"))
    observe(TurnMetrics(TurnTimings("r1", "hi\x00", "completed", committed=start + 1.0,
                                    ended=start + 3.0)))  # fmt: skip
    assert written == []  # what was heard has not come yet
    observe(AgentResponseDone("r1", "r1 first. r1 second.", "completed"))
    observe(AgentResponseDone("r2", "r2 first.", "cancelled"))  # heard first, timings after
    observe(TurnMetrics(TurnTimings("r2", "more", "interrupted", ended=start + 5.0)))
    observe(ErrorEvent("stt_failed", "x" * 10))
    observe(TurnMetrics(TurnTimings("r3", "last", "hangup", ended=start + 7.0)))  # no Done
    observe(SessionEnded("bye\x00" + "y" * 500))
    observe(ErrorEvent("stt_failed", "after the end"))  # ignored

    first, second, error, third, closed = written
    assert isinstance(first, TurnEnded) and isinstance(second, TurnEnded)
    assert (first.index, first.status, first.user_text) == (0, "completed", "hi")
    assert first.agent_text == "r1 first. r1 second." == first.heard_text
    assert (first.stages["committed"], first.stages["ended"], first.resumes) == (1.0, 3.0, 1)
    assert first.stages["speech_started"] is None
    assert abs((first.at - T0).total_seconds() - 3.0) < 1e-6
    assert (second.index, second.status, second.heard_text) == (1, "cancelled", "r2 first.")
    assert isinstance(error, ErrorMet) and error.code == "stt_failed" and 9.9 < error.at_s < 11
    assert isinstance(third, TurnEnded) and (third.index, third.status) == (2, "hangup")
    assert third.heard_text == "" and third.agent_text == "r3 first. r3 second."
    assert isinstance(closed, CallClosed) and closed.end_reason == "bye" + "y" * 197
