"""Fills per-turn timing records from what the session sees, and logs one line per turn."""

from __future__ import annotations

import logging
from collections.abc import Callable

from parley.conversation.actions import (
    Action,
    CancelResponse,
    DropResponse,
    PauseOutput,
    PredictTurn,
    ReleaseResponse,
    StartResponse,
)
from parley.conversation.inputs import (
    ConversationInput,
    PlaybackFinished,
    PlaybackStarted,
    ResponseFailed,
    SpeechEnded,
    SpeechStarted,
    TranscriptReceived,
    TurnPredicted,
)
from parley.timing import TurnStatus, TurnTimings

log = logging.getLogger("parley.turns")


class TurnRecorder:
    def __init__(self, session_id: str, publish: Callable[[TurnTimings], None]) -> None:
        self._session_id = session_id
        self._publish = publish
        self._user = TurnTimings("")  # the person's speech not yet answered
        self._open: dict[str, TurnTimings] = {}
        self._last_pause: dict[str, float] = {}
        self.completed: list[TurnTimings] = []

    def observe_input(self, event: ConversationInput) -> None:
        match event:
            case SpeechStarted() if self._user.speech_started is None:
                self._user.speech_started = event.onset
                self._user.speech_start_decided = event.at
            case SpeechEnded():
                self._user.speech_ended = event.last_voiced
                self._user.endpoint_decided = event.at
            case TranscriptReceived(final=True) if event.text.strip():
                self._user.stt_final = event.at
            case TurnPredicted(complete=complete):
                verdicts = {True: "complete", False: "incomplete", None: "failed"}
                if self._user.turn_verdict == "asked":  # else a late answer, already moot
                    self._user.turn_verdict = verdicts[complete]
            case PlaybackStarted():
                self.mark(event.response_id, "first_audio_out", event.at)
            case PlaybackFinished():
                self._finish(event.response_id, "completed", event.at)
            case ResponseFailed():
                record = self._open.get(event.response_id)
                if record is not None:
                    record.notes.append(f"{event.stage}_failed")

    def observe_action(self, action: Action, now: float) -> None:
        match action:
            case PredictTurn():
                self._user.turn_verdict = "asked"
            case StartResponse(held=True):
                self._open[action.response_id] = TurnTimings(action.response_id)  # its marks
            case ReleaseResponse():
                held = self._open.get(action.response_id)
                record, self._user = self._user, TurnTimings("")
                record.response_id = action.response_id
                record.user_text = action.user_text
                record.committed = now
                record.preemptive = True
                if held is not None:
                    record.llm_first_token = held.llm_first_token
                    record.tts_first_audio = held.tts_first_audio
                self._open[action.response_id] = record
            case DropResponse():
                self._open.pop(action.response_id, None)
                self._user.preemptive_dropped += 1
            case StartResponse():
                record, self._user = self._user, TurnTimings("")
                record.response_id = action.response_id
                record.user_text = action.user_text
                record.committed = now
                self._open[action.response_id] = record
            case PauseOutput():
                paused = self._open.get(action.response_id)
                if paused is not None:
                    paused.pauses += 1
                    self._last_pause[action.response_id] = now
            case CancelResponse():
                cancelled = self._open.get(action.response_id)
                if cancelled is None:
                    return
                if action.reason == "hangup":
                    cancelled.output_stopped = now
                    self._finish(action.response_id, "hangup", now)
                    return
                cancelled.interruption_decided = now
                cancelled.pauses -= 1  # the pause that became the interruption
                cancelled.output_stopped = self._last_pause.get(action.response_id, now)
                self._finish(action.response_id, "interrupted", now)

    def mark(self, response_id: str, stage: str, at: float) -> None:
        """Set a stage's time once (the first occurrence counts)."""
        record = self._open.get(response_id)
        if record is not None and getattr(record, stage) is None:
            setattr(record, stage, at)

    def add_tool_time(self, response_id: str, seconds: float, calls: int) -> None:
        """A round of tool calls of the response took `seconds`."""
        record = self._open.get(response_id)
        if record is not None:
            record.tool_calls += calls
            record.tool_seconds += seconds

    def _finish(self, response_id: str, status: TurnStatus, at: float) -> None:
        record = self._open.pop(response_id, None)
        self._last_pause.pop(response_id, None)
        if record is None:
            return
        record.status = "failed" if record.notes and status == "completed" else status
        record.ended = at
        self.completed.append(record)
        log.info("%s %s", self._session_id, record.summary())
        self._publish(record)
