"""A session observer that turns one call's events into rows for the writer.

Synchronous and cheap, like every session observer: it keeps a little per-response state and
hands finished rows to `put` (the writer's queue). A turn is handed over as soon as it has
ended: its timings (TurnMetrics) and what was heard (AgentResponseDone), in either order.
Times become seconds from the call's start, the timeline of the call's recording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from parley import timing
from parley.events import (
    AgentPaused,
    AgentResponseDone,
    AgentResponseStarted,
    AgentResumed,
    AgentTranscript,
    ErrorEvent,
    SessionEnded,
    SessionEvent,
    TurnMetrics,
)
from parley.records.rows import CallClosed, ErrorMet, TurnEnded, Write
from parley.timing import STAGES, TurnTimings


@dataclass
class _Response:
    index: int
    agent_text: list[str] = field(default_factory=list)
    pauses: int = 0
    resumes: int = 0
    timings: TurnTimings | None = None
    done: AgentResponseDone | None = None


class CallObserver:
    """One call's observer. `started_wall` and `started_loop` are the same instant (the
    session's start) on the wall clock and on the session clock (`parley.timing.now`)."""

    def __init__(
        self,
        call_id: str,
        started_wall: datetime,
        started_loop: float,
        put: Callable[[Write], bool],
    ) -> None:
        self.call_id = call_id
        self._started_wall = started_wall
        self._started_loop = started_loop
        self._put = put
        self._responses: dict[str, _Response] = {}
        self._next_index = 0
        self._closed = False

    def __call__(self, event: SessionEvent) -> None:
        if self._closed:
            return
        match event:
            case AgentResponseStarted(response_id):
                self._response(response_id)
            case AgentTranscript(response_id, text):
                self._response(response_id).agent_text.append(text)
            case AgentPaused(response_id):
                self._response(response_id).pauses += 1
            case AgentResumed(response_id):
                self._response(response_id).resumes += 1
            case AgentResponseDone(response_id):
                self._response(response_id).done = event
                self._maybe_finish(response_id)
            case TurnMetrics(timings):
                self._response(timings.response_id).timings = timings
                self._maybe_finish(timings.response_id)
            case ErrorEvent(code, message):
                now = timing.now()
                self._put(ErrorMet(self.call_id, self._wall(now), self._offset(now), code[:64],
                                   _clean(message)))  # fmt: skip
            case SessionEnded(reason):
                for response_id in list(self._responses):
                    self._finish(response_id)
                self._closed = True
                self._put(CallClosed(self.call_id, self._wall(timing.now()), _clean(reason)[:200]))

    def _response(self, response_id: str) -> _Response:
        response = self._responses.get(response_id)
        if response is None:
            response = self._responses[response_id] = _Response(self._next_index)
            self._next_index += 1
        return response

    def _maybe_finish(self, response_id: str) -> None:
        response = self._responses[response_id]
        if response.timings is not None and response.done is not None:
            self._finish(response_id)

    def _finish(self, response_id: str) -> None:
        response = self._responses.pop(response_id)
        timings, done = response.timings, response.done
        if timings is None and done is None:
            return  # started but never answered: the call ended first
        stages = {
            stage: None if (at := getattr(timings, stage, None)) is None else self._offset(at)
            for stage in STAGES
        }
        status: str = timings.status if timings is not None else "hangup"
        if done is not None and (done.status == "cancelled" or timings is None):
            status = done.status
        ended = timings.ended if timings is not None else None
        self._put(
            TurnEnded(
                call_id=self.call_id,
                at=self._wall(ended if ended is not None else timing.now()),
                index=response.index,
                response_id=response_id[:64],
                status="hangup" if status == "open" else status,
                user_text=_clean(timings.user_text if timings is not None else ""),
                agent_text=_clean(" ".join(response.agent_text)),
                heard_text=_clean(done.text if done is not None else ""),
                pauses=timings.pauses if timings is not None else response.pauses,
                resumes=response.resumes,
                stages=stages,
            )
        )

    def _offset(self, at: float) -> float:
        return round(at - self._started_loop, 4)

    def _wall(self, at: float) -> datetime:
        return self._started_wall + timedelta(seconds=at - self._started_loop)


def _clean(text: str) -> str:
    """PostgreSQL text holds no NUL character; a client could send one."""
    return text.replace("\x00", "")
