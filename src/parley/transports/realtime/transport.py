"""The Realtime API transport: one client's websocket, translated (invariant 9).

Inbound, each text message is parsed into a client event (`client_events`) and handled at
once (`requests`): session calls happen in the session's input task, between frames, and
audio joins a small queue that `receive` hands to the session frame by frame, in order with
everything else the client sent. Outbound, session events become server events (`narrator`)
and paced agent audio becomes audio deltas; both go through the OutboundQueue, where a clear
drops the deltas not yet written. Each written delta is recorded against its item, so a
client's truncation maps exactly onto the response.

Bad input never ends the session (invariant 10): every problem is an `error` event naming
it. A client sending more than `max_messages_per_second` is told once and read no faster
than that until the second is over; nothing it sent is dropped. A client that stops reading
has its error events dropped once it is behind, and its session ended when it is far behind
or a write stalls (transports/outbound.py). The socket is read by the shared loop
(transports/websocket.py); this class is the protocol's codec.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.events import (
    AgentResponseStarted,
    ErrorEvent,
    SessionEvent,
)
from parley.logsafe import field
from parley.problems import ProblemCounter
from parley.session.port import (
    ClientSpeechStarted,
    ClientUtterance,
    InboundItem,
    OutboundAudio,
    SessionControl,
    Transport,
)
from parley.transports import wire_json
from parley.transports.outbound import OutboundQueue, drain, pump
from parley.transports.realtime.client_events import ClientEvent, Rejection, not_json
from parley.transports.realtime.client_events import decode as decode_event
from parley.transports.realtime.config import RealtimeConfig
from parley.transports.realtime.context import Context, ErrorType
from parley.transports.realtime.formats import RATES, encode_audio
from parley.transports.realtime.items import AssistantItem
from parley.transports.realtime.narrator import Narrator
from parley.transports.realtime.requests import ClientRequests
from parley.transports.realtime.server_events import AudioDelta, Dialect, Error, ServerEvent
from parley.transports.realtime.settings import RealtimeEndpointSettings
from parley.transports.websocket import RateLimit, WebSocketConnection

log = logging.getLogger("parley.realtime")


@dataclass(frozen=True, slots=True)
class _Outgoing:
    text: str
    item: AssistantItem | None = None  # an audio delta of this item: where it sits
    offset: float = 0.0
    duration: float = 0.0


class RealtimeTransport(Transport):
    reports_playback = False  # the server's playhead model says what was heard

    def __init__(
        self,
        websocket: WebSocket,
        settings: RealtimeEndpointSettings,
        *,
        dialect: Dialect,
        config: RealtimeConfig,
        base_policy: TurnTakingPolicy,
        session_id: str,
    ) -> None:
        self.output_sample_rate = RATES[config.output_format]
        self._queue: OutboundQueue[_Outgoing] = OutboundQueue()
        rate = RateLimit(settings.max_messages_per_second, "wait", self._rate_exceeded)
        self._wire: WebSocketConnection[ClientEvent] = WebSocketConnection(
            websocket, self, max_message_bytes=settings.max_message_bytes, rate=rate
        )
        self.ctx = Context(dialect, config, base_policy, session_id, self._put)
        self.narrator = Narrator(self.ctx)
        self.requests = ClientRequests(
            self.ctx,
            self.narrator,
            self._wire.pending.extend,
            self._set_output_rate,
            settings.max_buffer_s,
        )
        self.narrator.on_transcribed = self.requests.items.transcribed
        self.problems = ProblemCounter()  # client errors, by code
        self.frames_in = 0
        self.deltas_out = 0

    @property
    def session_id(self) -> str:
        return self.ctx.session_id

    def policy(self) -> TurnTakingPolicy:
        """The turn-taking policy of the session's settings as they stand."""
        return self.ctx.policy()

    def attach(self, session: SessionControl) -> None:
        """Bind to the session that runs on this transport; session.created goes first."""
        self.ctx.session = session
        self.ctx.send_session("session.created")

    def refuse(self, code: str, message: str, kind: ErrorType = "invalid_request_error") -> None:
        """Tell the client why it gets no session (the route closes the socket after)."""
        self.ctx.error(code, message, kind=kind)

    # --- inbound --------------------------------------------------------------------------

    async def receive(self) -> InboundItem | None:
        self.ctx.client_speech_delivered = False
        item = await self._wire.receive()
        if isinstance(item, AudioFrame):
            self.frames_in += 1
            self.ctx.input_ms += item.duration * 1000
            self.ctx.input_at = asyncio.get_running_loop().time()
        elif isinstance(item, ClientSpeechStarted | ClientUtterance):
            self.ctx.client_speech_delivered = True
        return item

    def _rate_exceeded(self, limit: int) -> None:
        self._reject(
            Rejection(
                "rate_limit_exceeded",
                f"More than {limit} messages in one second: the rest are read when the "
                "second is over.",
            )
        )

    # --- the codec (transports/websocket.py reads the socket and calls these) -------------

    def binary(self, data: bytes) -> None:
        self._reject(
            Rejection(
                "invalid_value",
                f"A binary frame of {len(data)} bytes: the "
                "Realtime protocol sends JSON text events.",
            )
        )

    def too_large(self, size: int, limit: int) -> None:
        self._reject(
            Rejection(
                "message_too_large",
                f"A message of {size} bytes is "
                f"over the {limit}-byte limit: split the audio into "
                "smaller appends.",
            )
        )

    def malformed(self, error: wire_json.WireJSONError) -> None:
        self._reject(not_json(error))

    def decode(self, value: Any) -> ClientEvent | None:
        event = decode_event(value, beta=self.ctx.dialect.beta)
        if isinstance(event, Rejection):
            self._reject(event)
            return None
        return event

    async def handle(self, message: ClientEvent) -> None:
        """Handled at once; the items it yields join the connection's pending queue."""
        self.ctx.client_event_id = message.event_id
        self.requests.handle(message)
        self.ctx.client_event_id = None

    def failed(self, message: ClientEvent, error: Exception) -> None:
        # a bug here must not end the session: report it
        log.exception("%s: could not handle %s", self.session_id, message.type)
        self.ctx.error(
            "internal_error",
            f"{message.type} was not handled ({type(error).__name__})",
            kind="server_error",
        )
        self.ctx.client_event_id = None

    def _reject(self, rejection: Rejection) -> None:
        self.problems.note(
            rejection.code, log, "%s: %s", self.session_id, field("problem", rejection.message)
        )
        self.ctx.error(
            rejection.code, rejection.message, rejection.param, event_id=rejection.event_id
        )

    # --- outbound (synchronous, never blocks) ---------------------------------------------

    def send_audio(self, frame: OutboundAudio) -> None:
        item = self.ctx.items.response(frame.response_id)
        if item is None:
            return
        delta = AudioDelta(
            type=self.ctx.dialect.audio_delta,
            response_id=item.response_id,
            item_id=item.item_id,
            delta=encode_audio(frame.audio, self.ctx.config.output_format),
        )
        outgoing = _Outgoing(delta.model_dump_json(), item, frame.offset, frame.audio.duration)
        self._queue.put(outgoing, audio=True)

    def clear_audio(self) -> None:
        self._queue.drop_audio()  # the websocket protocol has no clear: unsent deltas go

    def send_event(self, event: SessionEvent) -> None:
        self.narrator.tell(event)
        match event:
            case AgentResponseStarted():
                self.requests.response_started()
            case ErrorEvent(code="conversation_already_has_active_response"):
                self.requests.response_refused()

    def _put(self, event: ServerEvent) -> None:
        # An error event is what a client that floods bad input and never reads would pile
        # up: once the client is behind, those are dropped (counted) instead of queued.
        optional = isinstance(event, Error)
        self._queue.put(_Outgoing(event.model_dump_json()), optional=optional)

    def _set_output_rate(self, rate: int) -> None:
        self.output_sample_rate = rate  # from the next response on (PlayoutScheduler.start)

    # --- the writer and closing -----------------------------------------------------------

    async def serve(self) -> None:
        await pump(self._queue, self._write)

    async def _write(self, outgoing: _Outgoing) -> None:
        if not await self._wire.send(outgoing.text):
            return
        if outgoing.item is not None:
            outgoing.item.written(outgoing.offset, outgoing.duration)
            self.deltas_out += 1

    async def aclose(self, code: int = 1000) -> None:
        """Send what is still queued (the last response.done among it), then close; a client
        that stopped reading gets nothing more, and a policy-violation close."""
        await drain(self._queue, self._write)
        await self._wire.close(1008 if self._queue.stalled else code, self._queue.write_timeout)
