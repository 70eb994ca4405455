"""The Twilio Media Streams transport: one phone call's websocket, translated (invariant 9).

Inbound, mu-law 8 kHz media becomes PCM16 frames (the input path resamples them to the STT's
rate), DTMF becomes digits, echoed marks become playback reports and `stop` a hangup.
Outbound, the session's paced 20 ms frames (the pipeline resamples speech to 8 kHz for us)
go out as mu-law, each followed by a mark naming where it ends in its response, so the
echoes tell the server how far the caller has really heard. A clear drops queued audio and
its marks, voids the marks already sent and tells Twilio to empty its buffer, in that order.

Bad input is logged with the call id and dropped; the call goes on. Twilio's protocol has
no way to tell it about an error, so the log is where it shows. The socket is read by the
shared loop (transports/websocket.py); this class is the protocol's codec.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.websockets import WebSocket

from parley.audio.codecs import pcm16_to_ulaw, ulaw_to_pcm16
from parley.audio.frames import AudioFrame
from parley.audio.resample import resample
from parley.events import SessionEvent
from parley.logsafe import Field, field
from parley.problems import ProblemCounter
from parley.session.port import (
    DtmfDigit,
    Hangup,
    InboundItem,
    OutboundAudio,
    PlaybackReport,
    Transport,
)
from parley.transports import wire_json
from parley.transports.outbound import OutboundQueue, drain, pump
from parley.transports.twilio.marks import MarkLedger, UnknownMarkError
from parley.transports.twilio.messages import (
    INBOUND,
    Clear,
    Connected,
    Dtmf,
    InboundMessage,
    Mark,
    Media,
    OutboundEncoder,
    Start,
    Stop,
    StreamStart,
    to_wire,
)
from parley.transports.websocket import WebSocketConnection

log = logging.getLogger("parley.twilio")

TWILIO_RATE = 8000
HangUpCall = Callable[[str], Awaitable[None]]
TransferCall = Callable[[str, str], Awaitable[None]]  # (call SID, +E.164 or sip: target)
# Twilio's ids: two letters naming the kind, then 32 hex digits (CA... a call, MZ... a stream).
CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
STREAM_SID = re.compile(r"MZ[0-9a-fA-F]{32}")


class StreamNotStartedError(Exception):
    """The stream closed, timed out or was unusable before a valid `start`."""


class TwilioTransport(Transport):
    output_sample_rate = TWILIO_RATE
    reports_playback = True

    def __init__(
        self,
        websocket: WebSocket,
        *,
        max_message_bytes: int = 65_536,
        hang_up: HangUpCall | None = None,
        transfer_call: TransferCall | None = None,
    ) -> None:
        self._wire: WebSocketConnection[InboundMessage] = WebSocketConnection(
            websocket, self, max_message_bytes=max_message_bytes
        )
        self._hang_up = hang_up
        self._transfer_call = transfer_call
        self._queue: OutboundQueue[tuple[str, ...]] = OutboundQueue()
        self._marks = MarkLedger()
        self.call: StreamStart | None = None
        self._encoder: OutboundEncoder | None = None  # the call's media and mark messages
        self.stopped = False  # Twilio sent `stop`: the call is over on its side
        self.problems = ProblemCounter()  # bad input, by kind

    @property
    def call_id(self) -> str:
        return self.call.call_sid if self.call is not None else "(before start)"

    @property
    def call_field(self) -> Field:
        """The call id for a log call (see parley.logsafe)."""
        return field("call_sid", self.call_id)

    @property
    def marks(self) -> MarkLedger:
        return self._marks

    @property
    def can_transfer(self) -> bool:
        """With REST credentials, a started call can be redirected (transfer_call)."""
        return self._transfer_call is not None and self.call is not None

    async def transfer(self, target: str) -> None:
        """Redirect the live call to `target` by REST (TwiML <Dial>); Twilio then stops the
        media stream, which ends the session."""
        if self._transfer_call is None or self.call is None:
            await super().transfer(target)
            return
        await self._transfer_call(self.call.call_sid, target)

    # --- the handshake ----------------------------------------------------------------------

    async def wait_for_start(self, limit: float) -> StreamStart:
        """Read `connected` and `start` within `limit` s; anything else first is dropped."""
        try:
            async with asyncio.timeout(limit):
                while True:
                    message = await self._wire.message()
                    match message:
                        case None:
                            raise StreamNotStartedError("the stream closed before `start`")
                        case Connected():
                            continue
                        case Start():
                            self._check_ids(message)
                            self._check_format(message.start)
                            self.call = message.start
                            stream = field("stream_sid", message.stream_sid)
                            log.info("twilio call %s: stream %s started", self.call_field, stream)
                            return message.start
                        case _:
                            self._complain("early", f"`{message.event}` before `start`: dropped")
        except TimeoutError:
            raise StreamNotStartedError(f"no `start` within {limit:g} s") from None

    @staticmethod
    def _check_ids(message: Start) -> None:
        """Refuse a `start` whose ids are not Twilio's before any of them is logged or used:
        a Call SID is 34 characters, not 60,000."""
        for name, value, pattern in (
            ("callSid", message.start.call_sid, CALL_SID),
            ("streamSid", message.stream_sid, STREAM_SID),
            ("start.streamSid", message.start.stream_sid, STREAM_SID),
        ):
            if pattern.fullmatch(value) is None:
                raise StreamNotStartedError(
                    f"`start` with a {name} of {len(value)} characters that is not a Twilio id"
                )

    def _check_format(self, start: StreamStart) -> None:
        fmt = start.media_format
        if (fmt.encoding, fmt.sample_rate, fmt.channels) != ("audio/x-mulaw", TWILIO_RATE, 1):
            raise StreamNotStartedError(
                f"unsupported media format {fmt.encoding} {fmt.sample_rate} Hz "
                f"x{fmt.channels} (Media Streams sends audio/x-mulaw 8000 Hz mono)"
            )

    # --- inbound ----------------------------------------------------------------------------

    async def receive(self) -> InboundItem | None:
        return await self._wire.receive()

    async def handle(self, message: InboundMessage) -> InboundItem | None:
        return self._translate(message)

    def failed(self, message: InboundMessage, error: Exception) -> None:
        # a bug here must not end the call: log it, go on
        log.exception("twilio call %s: could not handle a message", self.call_field)
        self._complain("internal", f"`{message.event}` not handled "
                       f"({type(error).__name__}): dropped")  # fmt: skip

    def _translate(self, message: InboundMessage) -> InboundItem | None:
        assert self.call is not None, "receive() before wait_for_start()"
        if isinstance(message, Connected | Start):
            self._complain("repeat", f"`{message.event}` again mid-call: ignored")
            return None
        if message.stream_sid != self.call.stream_sid:
            self._complain("stream", f"`{message.event}` for another stream "
                           f"({message.stream_sid[:40]!r}): dropped")  # fmt: skip
            return None
        match message:
            case Media():
                return self._audio(message)
            case Mark():
                return self._echo(message.mark.name)
            case Dtmf():
                return DtmfDigit(message.dtmf.digit)
            case Stop():
                self.stopped = True
                log.info("twilio call %s: stream stopped by Twilio", self.call_field)
                return Hangup("Twilio stopped the stream")
        return None

    def _audio(self, message: Media) -> AudioFrame | None:
        if message.media.track not in ("inbound", "inbound_track"):
            return None  # the agent's own audio, when a stream asks for both tracks
        try:
            ulaw = base64.b64decode(message.media.payload, validate=True)
        except (binascii.Error, ValueError):
            self._complain("base64", "media payload is not valid base64: dropped")
            return None
        if not ulaw:
            self._complain("empty", "media with an empty payload: dropped")
            return None
        return AudioFrame(ulaw_to_pcm16(ulaw), TWILIO_RATE)

    def _echo(self, name: str) -> PlaybackReport | None:
        try:
            return self._marks.echoed(name)
        except UnknownMarkError as exc:
            self._complain("mark", str(exc))
            return None

    # --- the codec's problems (transports/websocket.py reads the socket) ------------------

    def binary(self, data: bytes) -> None:
        self._complain("binary", f"binary frame of {len(data)} bytes (Media Streams sends "
                       "JSON text): dropped")  # fmt: skip

    def too_large(self, size: int, limit: int) -> None:
        self._complain("size", f"message of {size} bytes is over the {limit}-byte limit: "
                       "dropped")  # fmt: skip

    def malformed(self, error: wire_json.WireJSONError) -> None:
        self._complain("json", f"malformed JSON ({error}): dropped")

    def decode(self, value: Any) -> InboundMessage | None:
        try:
            return INBOUND.validate_python(value)
        except ValidationError as exc:
            self._complain(*describe_invalid(exc))
            return None

    def _complain(self, kind: str, problem: str) -> None:
        detail = field("problem", problem)
        self.problems.note(kind, log, "twilio call %s: %s", self.call_field, detail)

    # --- outbound (synchronous, never blocks) ---------------------------------------------

    def send_audio(self, frame: OutboundAudio) -> None:
        if self.call is None:
            return
        audio = frame.audio
        if audio.sample_rate != TWILIO_RATE:
            audio = resample(audio, TWILIO_RATE)
        encoder = self._encoder
        if encoder is None or encoder.stream_sid != self.call.stream_sid:
            self._encoder = encoder = OutboundEncoder(self.call.stream_sid)
        payload = base64.b64encode(pcm16_to_ulaw(audio.pcm)).decode("ascii")
        name = self._marks.issue(frame.response_id, frame.offset + audio.duration)
        self._queue.put((encoder.media(payload), encoder.mark(name)), audio=True)

    def clear_audio(self) -> None:
        if self.call is None:
            return
        self._queue.drop_audio()  # with their marks: those will never be echoed
        self._marks.void_outstanding()
        self._queue.put((to_wire(Clear(stream_sid=self.call.stream_sid)),))

    def send_event(self, event: SessionEvent) -> None:
        """Media Streams has no words for session events."""

    # --- the writer and closing ------------------------------------------------------------

    async def serve(self) -> None:
        await pump(self._queue, self._write)

    async def _write(self, texts: tuple[str, ...]) -> None:
        for text in texts:
            if not await self._wire.send(text):
                return

    async def aclose(self) -> None:
        """End the call: what is still queued goes out first (a last `clear`, so Twilio
        plays nothing more while the REST hangup runs), then the REST hangup unless Twilio
        already stopped the stream, then the socket."""
        try:
            await drain(self._queue, self._write)
            if not self.stopped and self.call is not None and self._hang_up is not None:
                await self._hang_up(self.call.call_sid)
        finally:
            await self._wire.close(1000, self._queue.write_timeout)


def describe_invalid(exc: ValidationError) -> tuple[str, str]:
    """The kind of problem and one line naming it, for the log."""
    error = exc.errors(include_url=False)[0]
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "json_invalid":
        return "json", f"malformed JSON ({ctx.get('error', error['msg'])}): dropped"
    if kind == "union_tag_invalid":
        return "event", f"unknown event {str(ctx.get('tag'))[:40]!r}: ignored"
    if kind in ("union_tag_not_found", "model_attributes_type", "model_type"):
        return "no event", "a message without an `event` field: dropped"
    where = ".".join(str(part) for part in error["loc"])
    return "fields", f"invalid message ({where}: {error['msg'][:100]}): dropped"
