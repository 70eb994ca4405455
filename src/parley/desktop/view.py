"""What the terminal shows of a call, kept from the session's events (no I/O, no clock).

The state follows the conversation: listening, thinking (the person's turn ended, no audio
yet), speaking, paused (speech over the agent, deciding). The transcript keeps the person's
final words and, for each answer, what was heard of it: an interrupted answer shows only its
heard part. Each turn's voice-to-voice latency comes from the turn's timings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from parley.events import (
    AgentPaused,
    AgentResponseDone,
    AgentResponseStarted,
    AgentResumed,
    AgentSpeaking,
    AgentTranscript,
    ErrorEvent,
    SessionEnded,
    SessionEvent,
    TurnMetrics,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
)

State = Literal["starting", "listening", "hearing you", "thinking", "speaking", "paused", "ended"]
KEPT_LINES = 200


@dataclass
class Line:
    who: Literal["you", "agent", "note"]
    text: str
    status: str = ""  # for answers: "", "interrupted", "cancelled"
    latency_ms: float | None = None  # voice-to-voice for the answer of a turn


@dataclass
class CallView:
    state: State = "starting"
    note: str = ""  # loading progress, device errors, the end reason
    muted: bool = False
    echo: str = ""
    lines: list[Line] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    calls: int = 0
    _answers: dict[str, Line] = field(default_factory=dict)
    _partial: str = ""

    @property
    def partial(self) -> str:
        """The person's words so far in the turn being heard."""
        return self._partial

    def call_started(self) -> None:
        self.calls += 1
        self.state = "listening"
        self.note = ""
        if self.calls > 1:
            self._add(Line("note", f"new call ({self.calls})"))

    def on_event(self, event: SessionEvent) -> None:
        match event:
            case UserSpeechStarted():
                if self.state not in ("speaking", "paused"):
                    self.state = "hearing you"
            case UserSpeechStopped():
                if self.state == "hearing you":
                    self.state = "thinking"
            case UserTranscript(text, final):
                if final and text.strip():
                    self._add(Line("you", text.strip()))
                    self._partial = ""
                elif not final:
                    self._partial = text
            case AgentResponseStarted(response_id):
                self.state = "thinking"
                line = Line("agent", "")
                self._answers[response_id] = line
                self._add(line)
            case AgentTranscript(response_id, text):
                if (growing := self._answers.get(response_id)) is not None:
                    growing.text = f"{growing.text} {text}".strip()
            case AgentSpeaking():
                self.state = "speaking"
            case AgentPaused():
                self.state = "paused"
            case AgentResumed():
                self.state = "speaking"
            case AgentResponseDone(response_id, text, status):
                if (answered := self._answers.pop(response_id, None)) is not None:
                    answered.text = text  # what was heard of it
                    answered.status = "" if status == "completed" else status
                if self.state in ("speaking", "paused", "thinking"):
                    self.state = "listening"
            case TurnMetrics(timings):
                v2v = timings.voice_to_voice
                if v2v is not None:
                    self.latencies_ms.append(v2v * 1000)
                    answer = next((a for a in reversed(self.lines) if a.who == "agent"), None)
                    if answer is not None and answer.latency_ms is None:
                        answer.latency_ms = v2v * 1000
            case ErrorEvent(code, message):
                self._add(Line("note", f"{code}: {message}"))
            case SessionEnded(reason):
                self.state = "ended"
                self.note = reason
                self._answers.clear()

    def _add(self, line: Line) -> None:
        self.lines.append(line)
        del self.lines[:-KEPT_LINES]
