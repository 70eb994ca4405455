"""The browser transport: one page's websocket, translated (invariant 9).

Inbound, the page either runs its own VAD and sends `speech_start` and whole utterances
(`speech_end`, WAV or WebM/Opus), or streams microphone PCM as binary frames after
`start_stream` and leaves the VAD to the server. Playback position reports become
PlaybackReports: once a page sends one, what was heard comes from the page, not from the
server's model of its playhead. Outbound, each paced 20 ms frame goes out as a small WAV in
`play_audio`, a clear becomes `stop_playback` (queued audio is dropped first) and session
events become the protocol's events.

Bad input never ends the session (invariant 10): each problem gets an `error` event naming
it, the message is dropped and the connection goes on. Past `max_messages_per_second`,
messages are dropped for the rest of that second with one error event. A page that stops
reading has its error events dropped once it is behind, and its session ended when it is far
behind or a write stalls (transports/outbound.py). The socket is read by the shared loop
(transports/websocket.py); this class is the protocol's codec.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from typing import Any

from pydantic import ValidationError
from starlette.websockets import WebSocket

from parley.audio.frames import AudioFormatError, AudioFrame
from parley.audio.resample import resample
from parley.conversation.policy import TurnTakingPolicy
from parley.events import SessionEvent
from parley.logsafe import field
from parley.problems import ProblemCounter
from parley.session.port import (
    ClientSpeechStarted,
    ClientUtterance,
    Hangup,
    InboundItem,
    OutboundAudio,
    PlaybackReport,
    Transport,
)
from parley.transports import wire_json
from parley.transports.browser.audio import decode_utterance, wav_bytes
from parley.transports.browser.messages import (
    CLIENT_MESSAGE,
    ClientMessage,
    Connected,
    ErrorMessage,
    HangupMessage,
    PlayAudio,
    PlaybackCompleteMessage,
    PlaybackPosition,
    PlaybackStartedMessage,
    ServerMessage,
    SpeechEnd,
    SpeechStart,
    StartStream,
    StopPlayback,
    describe_invalid,
)
from parley.transports.browser.settings import BrowserSettings
from parley.transports.browser.translate import page_vad, to_wire
from parley.transports.outbound import OutboundQueue, drain, pump
from parley.transports.websocket import RateLimit, WebSocketConnection

log = logging.getLogger("parley.browser")


class BrowserTransport(Transport):
    reports_playback = False  # until the page sends its first playback_position

    def __init__(self, websocket: WebSocket, settings: BrowserSettings) -> None:
        self.output_sample_rate = settings.output_sample_rate
        self._settings = settings
        self._queue: OutboundQueue[str] = OutboundQueue()
        rate = RateLimit(settings.max_messages_per_second, "drop", self._flooding)
        self._wire: WebSocketConnection[ClientMessage | bytes] = WebSocketConnection(
            websocket, self, max_message_bytes=settings.max_message_bytes, rate=rate
        )
        self._write_lock = asyncio.Lock()
        self.session_id = ""
        self.stream_rate: int | None = None  # streaming mode, once `start_stream` declared it
        self.problems = ProblemCounter()  # bad input, by error code
        self.frames_in = 0
        self.frames_out = 0
        self.utterances_in = 0

    def greet(self, session_id: str, policy: TurnTakingPolicy, *, recording: bool = False) -> None:
        """Queue `connected`, the first message the page gets (and whether the call is recorded,
        which the page shows: a person should know)."""
        self.session_id = session_id
        self._put(Connected(
            message="parley is listening", session_id=session_id,
            output_sample_rate=self.output_sample_rate, vad=page_vad(policy), recording=recording,
        ))  # fmt: skip

    def refuse(self, code: str, message: str) -> None:
        """Tell the page why it gets no session (the route closes the socket after)."""
        self._put(ErrorMessage(code=code, message=message))

    # --- inbound --------------------------------------------------------------------------

    async def receive(self) -> InboundItem | None:
        return await self._wire.receive()

    def _flooding(self, limit: int) -> None:
        self.problem("flooding", f"more than {limit} messages in one second: the rest of "
                     "this second's messages are dropped")  # fmt: skip

    # --- the codec (transports/websocket.py reads the socket and calls these) -------------

    def binary(self, data: bytes) -> bytes:
        return data  # streamed microphone PCM: checked in `handle`

    def too_large(self, size: int, limit: int) -> None:
        self.problem("too_large", f"message of {size} bytes is over the {limit}-byte "
                     "limit: dropped")  # fmt: skip

    def malformed(self, error: wire_json.WireJSONError) -> None:
        self.problem("malformed_json", f"message is not valid JSON ({error})")

    def decode(self, value: Any) -> ClientMessage | None:
        try:
            return CLIENT_MESSAGE.validate_python(value)
        except ValidationError as exc:
            self.problem(*describe_invalid(exc))
            return None

    def failed(self, message: ClientMessage | bytes, error: Exception) -> None:
        log.exception("%s: could not handle a message", self.session_id)
        self.problem("internal_error", f"message not handled ({type(error).__name__})")

    async def handle(self, message: ClientMessage | bytes) -> InboundItem | None:
        match message:
            case bytes():
                return self._stream_frame(message)
            case SpeechStart():
                return ClientSpeechStarted()
            case SpeechEnd(audio=encoded):
                return await self._utterance(encoded)
            case PlaybackPosition(response_id=response_id, played_seconds=played):
                self.reports_playback = True
                return PlaybackReport(response_id, played)
            case PlaybackCompleteMessage(response_id=str(response_id), played_seconds=float(s)):
                return PlaybackReport(response_id, s) if self.reports_playback else None
            case PlaybackCompleteMessage() | PlaybackStartedMessage():
                return None  # the server's playhead model already knows
            case StartStream(sample_rate=rate):
                self.stream_rate = rate
                log.info("%s: streaming microphone audio at %d Hz", self.session_id, rate)
                return None
            case HangupMessage(reason=reason):
                return Hangup(reason or "caller hung up")
        return None

    async def _utterance(self, encoded: str) -> ClientUtterance | None:
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            self.problem("bad_base64", "speech_end audio is not valid base64: dropped")
            return None
        try:
            audio = await asyncio.to_thread(decode_utterance, data, self._settings.max_utterance_s)
        except AudioFormatError as exc:
            self.problem("bad_audio", f"speech_end audio: {exc}: dropped")
            return None
        self.utterances_in += 1
        return ClientUtterance(audio)

    def _stream_frame(self, data: bytes) -> AudioFrame | None:
        if self.stream_rate is None:
            self.problem("no_stream", "binary audio before `start_stream` declared its "
                         "sample rate: dropped")  # fmt: skip
            return None
        if len(data) > self._settings.max_frame_bytes:
            self.problem("too_large", f"audio frame of {len(data)} bytes is over the "
                         f"{self._settings.max_frame_bytes}-byte limit: dropped")  # fmt: skip
            return None
        if not data or len(data) % 2:
            self.problem("bad_audio", f"audio frame of {len(data)} bytes is not whole "
                         "16-bit samples: dropped")  # fmt: skip
            return None
        self.frames_in += 1
        return AudioFrame(data, self.stream_rate)

    def problem(self, code: str, message: str) -> None:
        """Bad input: tell the page, log the first few of each kind, carry on."""
        self.problems.note(code, log, "%s: %s", self.session_id, field("problem", message))
        # optional: a page that floods bad input and never reads would pile these up
        self._queue.put(ErrorMessage(code=code, message=message).model_dump_json(), optional=True)

    # --- outbound (synchronous, never blocks) ---------------------------------------------

    def send_audio(self, frame: OutboundAudio) -> None:
        audio = frame.audio
        if audio.sample_rate != self.output_sample_rate:
            audio = resample(audio, self.output_sample_rate)
        message = PlayAudio(
            audio=base64.b64encode(wav_bytes(audio)).decode("ascii"),
            response_id=frame.response_id,
            offset=round(frame.offset, 6),
            duration=round(audio.duration, 6),
            sample_rate=audio.sample_rate,
        )
        self._queue.put(message.model_dump_json(), audio=True)
        self.frames_out += 1

    def clear_audio(self) -> None:
        self._queue.drop_audio()
        self._put(StopPlayback())

    def send_event(self, event: SessionEvent) -> None:
        for message in to_wire(event):
            self._put(message)

    def _put(self, message: ServerMessage) -> None:
        self._queue.put(message.model_dump_json())

    # --- the writer and closing -----------------------------------------------------------

    async def serve(self) -> None:
        await pump(self._queue, self._write)

    async def _write(self, text: str) -> None:
        async with self._write_lock:
            await self._wire.send(text)

    async def aclose(self, code: int = 1000) -> None:
        """Send what is still queued (`session_ended` last), then close the socket."""
        await drain(self._queue, self._write)
        await self._wire.close(1008 if self._queue.stalled else code, self._queue.write_timeout)
