"""What the endpoint's two halves share for one connection.

`ClientRequests` (client events -> session calls and inbound audio) and `Narrator` (session
events -> server events) both read the session's settings and the item ledger, and both
send events; this is that common ground, owned by the transport.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from parley.conversation.policy import TurnTakingPolicy
from parley.session.port import SessionControl
from parley.transports.realtime.config import RealtimeConfig, policy_for
from parley.transports.realtime.items import ItemLedger
from parley.transports.realtime.server_events import (
    Dialect,
    Error,
    ErrorDetail,
    ItemEvent,
    OutputItemEvent,
    ServerEvent,
    TranscriptionCompleted,
)
from parley.transports.realtime.session_object import SessionEvent, render_session

ErrorType = Literal["invalid_request_error", "server_error"]


class Context:
    def __init__(
        self,
        dialect: Dialect,
        config: RealtimeConfig,
        base_policy: TurnTakingPolicy,
        session_id: str,
        put: Callable[[ServerEvent], None],
    ) -> None:
        self.dialect = dialect
        self.config = config
        self.base_policy = base_policy
        self.session_id = session_id
        self.items = ItemLedger()
        self.session: SessionControl | None = None
        self.client_event_id: str | None = None  # the client event being handled, if any
        # Where the inbound audio stands: ms delivered to the session, and when the last
        # frame was (maps the session's clock times onto the client's audio_*_ms).
        self.input_ms = 0.0
        self.input_at = 0.0
        self.client_speech_delivered = False  # the item being processed is client-cut speech
        # Responses in text only right now (the session's setting or one response.create's).
        self.text_only = config.text_only
        self._put = put

    @property
    def manual_turns(self) -> bool:
        return self.config.turn_detection is None

    @property
    def transcribing(self) -> bool:
        """Transcription events are sent only when the client asked for them, as the API does."""
        return self.config.transcription is not None

    def policy(self) -> TurnTakingPolicy:
        return policy_for(self.config.turn_detection, self.base_policy)

    def live(self) -> SessionControl:
        assert self.session is not None, "the transport is not attached to a session"
        return self.session

    def send(self, event: ServerEvent) -> None:
        if isinstance(event, ItemEvent | OutputItemEvent):
            self.items.remember(event.item)
        elif isinstance(event, TranscriptionCompleted):
            self.items.transcribed(event.item_id, event.transcript)
        self._put(event)

    def send_session(self, kind: Literal["session.created", "session.updated"]) -> None:
        session = render_session(self.config, self.session_id, self.dialect)
        self.send(SessionEvent(type=kind, session=session))

    def error(
        self,
        code: str,
        message: str,
        param: str | None = None,
        *,
        kind: ErrorType = "invalid_request_error",
        event_id: str | None = None,
    ) -> None:
        """An `error` event; client errors name the client event that caused them."""
        caused_by = event_id or (self.client_event_id if kind == "invalid_request_error" else None)
        detail = ErrorDetail(type=kind, code=code, message=message, param=param, event_id=caused_by)
        self.send(Error(error=detail))

    def audio_ms(self, at: float) -> int:
        """The client's audio position (ms since the session began) of a session clock time;
        never past the audio it sent (speech a commit ends, later, ends where its audio did)."""
        return max(0, round(min(self.input_ms, self.input_ms - (self.input_at - at) * 1000)))
