"""A fake phone caller that speaks Twilio Media Streams faithfully, with a stopwatch.

It plays Twilio's part of a call against a parley server: `connected` and `start`, then
20 ms mu-law frames at real-time pace (silence between utterances, as a phone line sends),
DTMF, and `stop` on hanging up. What the server sends back goes into a simulated playback
buffer (`CallerPlayback`) that plays in real time, honours `clear` and echoes each mark once
the audio before it has played, exactly as Twilio does. Everything sent and received is
timestamped on the event loop's clock, so tests and benchmarks measure barge-in (onset to
clear), voice-to-voice, frame lateness and what the caller really heard.

Used by the tests, by the benchmark harness (many callers at once) and by `parley call`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import uuid
from collections.abc import Mapping, Sequence

from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from parley import timing
from parley.audio.codecs import pcm16_to_ulaw, ulaw_to_pcm16
from parley.audio.resample import resample
from parley.testing.twilio_caller.caller_playback import CallerPlayback
from parley.testing.twilio_caller.caller_script import (
    CallerStep,
    CallLog,
    HangUp,
    Pause,
    PressKeys,
    SendRaw,
    Speak,
    Utterance,
    WaitFor,
    agent_finished,
    agent_heard,
    answered,
    any_of,
    heard_or_finished,
    voiced_span,
)
from parley.transports.twilio.messages import (
    Connected,
    Dtmf,
    DtmfDigitInfo,
    InboundMedia,
    Mark,
    MarkName,
    Media,
    MediaFormat,
    Start,
    Stop,
    StreamStart,
    StreamStop,
    to_wire,
)
from parley.transports.twilio.stream_token import TOKEN_PARAMETER, call_token

RATE = 8000
FRAME_BYTES = 160  # 20 ms of mu-law at 8 kHz
FRAME_SECONDS = FRAME_BYTES / RATE
_ULAW_SILENCE = b"\xff" * FRAME_BYTES

__all__ = [  # the script and helpers, so callers need one import
    "CallLog", "CallerStep", "FakeCaller", "HangUp", "Pause", "PressKeys", "SendRaw", "Speak",
    "Utterance", "WaitFor", "agent_finished", "agent_heard", "answered", "any_of",
    "heard_or_finished", "voiced_span",
]  # fmt: skip


class FakeCaller:
    def __init__(
        self,
        url: str,
        script: Sequence[CallerStep],
        *,
        custom_parameters: Mapping[str, str] | None = None,
        call_sid: str | None = None,
        account_sid: str | None = None,
        echo_marks_on_clear: bool = True,
        before_start: Sequence[str | bytes] = (),
    ) -> None:
        self.url = url
        self.script = tuple(script)
        self.call_sid = call_sid or f"CA{uuid.uuid4().hex}"
        self.account_sid = account_sid or f"AC{uuid.uuid4().hex}"
        self.stream_sid = f"MZ{uuid.uuid4().hex}"
        self.custom_parameters = dict(custom_parameters or {})
        self.echo_marks_on_clear = echo_marks_on_clear
        self.before_start = tuple(before_start)  # raw messages sent between connected and start
        self.playback = CallerPlayback(RATE)
        self.log = CallLog()
        self.started_at = 0.0
        self.script_error: BaseException | None = None
        self._ws: ClientConnection | None = None
        self._sequence = 0
        self._frames = 0  # media frames sent: frame n leaves at started_at + n * 20 ms
        self._mark_wake = asyncio.Event()
        self._echo_now: list[str] = []
        self._hung_up = False

    def sign(self, key: SecretStr) -> None:
        """Carry the stream token a parley webhook gives this call, keyed with the server's
        stream key (parley.server.routes.twilio.stream_key)."""
        self.custom_parameters[TOKEN_PARAMETER] = call_token(key, self.call_sid)

    # --- running the call -----------------------------------------------------------------

    async def run(self) -> CallLog:
        """Place the call, play the script, and return once the line is closed."""
        async with connect(self.url, open_timeout=10, max_size=2**20) as ws:
            self._ws = ws
            start = StreamStart(
                stream_sid=self.stream_sid,
                account_sid=self.account_sid,
                call_sid=self.call_sid,
                custom_parameters=self.custom_parameters,
                media_format=MediaFormat(),
            )
            self.started_at = timing.now()
            try:
                await self._send(Connected(event="connected"))
                for raw in self.before_start:
                    await ws.send(raw)
                await self._send(Start(event="start", stream_sid=self.stream_sid, start=start))
            except ConnectionClosed:
                self.log.ended_by, self.log.closed_at = "server", timing.now()
                return self.log
            self.started_at = timing.now()
            async with asyncio.TaskGroup() as group:
                echoer = group.create_task(self._echo_marks())
                script = group.create_task(self._play_script())
                await self._receive()
                script.cancel()
                echoer.cancel()
        if self.script_error is not None:
            raise self.script_error
        return self.log

    async def end_call(self, ended_by: str = "twilio") -> None:
        """End the call from Twilio's side (what a REST hangup does): `stop`, then close."""
        if self._hung_up or self._ws is None:
            return
        self._hung_up = True
        self.log.ended_by = ended_by
        stop = StreamStop(account_sid=self.account_sid, call_sid=self.call_sid)
        try:
            await self._send(Stop(event="stop", stream_sid=self.stream_sid, stop=stop))
            await self._ws.close()
        except ConnectionClosed:
            pass

    async def _play_script(self) -> None:
        try:
            for step in self.script:
                match step:
                    case Speak():
                        await self._speak(step)
                    case Pause():
                        await self._send_frames([_ULAW_SILENCE] * round(step.duration / 0.02))
                    case WaitFor():
                        await self._wait_for(step)
                    case PressKeys():
                        for digit in step.digits:
                            await self._send(Dtmf(event="dtmf", stream_sid=self.stream_sid,
                                                  dtmf=DtmfDigitInfo(digit=digit)))  # fmt: skip
                            self.log.digits_sent.append((timing.now(), digit))
                    case SendRaw():
                        await self.send_raw(step.message)
                    case HangUp():
                        break
        except ConnectionClosed:
            return
        except Exception as exc:  # a failed wait: report it once the line is closed
            self.script_error = exc
        await self.end_call("caller")

    async def _speak(self, step: Speak) -> None:
        audio = resample(step.audio, RATE)
        ulaw = pcm16_to_ulaw(audio.pcm)
        ulaw += _ULAW_SILENCE[: -len(ulaw) % FRAME_BYTES] if len(ulaw) % FRAME_BYTES else b""
        started = self.started_at + self._frames * FRAME_SECONDS
        utterance = Utterance(step.label, started)
        span = voiced_span(audio)
        if span is not None:
            utterance.onset, utterance.speech_end = started + span[0], started + span[1]
        self.log.utterances.append(utterance)
        frames = [ulaw[i : i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]
        await self._send_frames(frames)
        utterance.ended = self.started_at + self._frames * FRAME_SECONDS

    async def _wait_for(self, step: WaitFor) -> None:
        deadline = timing.now() + step.limit
        while not step.condition(self, timing.now()):
            if timing.now() > deadline:
                raise TimeoutError(f"the caller waited {step.limit:g} s for {step.what}")
            await self._send_frames([_ULAW_SILENCE])
        await self._send_frames([_ULAW_SILENCE] * round(step.then / FRAME_SECONDS))

    async def _send_frames(self, frames: Sequence[bytes]) -> None:
        for payload in frames:
            # A frame leaves once its last sample is captured, as from a phone line.
            due = self.started_at + (self._frames + 1) * FRAME_SECONDS
            delay = due - timing.now()
            if delay > 0:
                await asyncio.sleep(delay)
            self._frames += 1
            media = InboundMedia(
                track="inbound",
                chunk=str(self._frames),
                timestamp=str((self._frames - 1) * 20),
                payload=base64.b64encode(payload).decode("ascii"),
            )
            await self._send(Media(event="media", stream_sid=self.stream_sid, media=media))
            self.log.frames.append((due, timing.now()))

    async def send_raw(self, text: str | bytes) -> None:
        """Send anything at all (tests of bad input)."""
        assert self._ws is not None, "the call is not connected"
        await self._ws.send(text)

    async def _send(self, message: Connected | Start | Media | Mark | Dtmf | Stop) -> None:
        assert self._ws is not None
        self._sequence += 1
        if not isinstance(message, Connected):
            message = message.model_copy(update={"sequence_number": str(self._sequence)})
        await self._ws.send(to_wire(message))

    # --- what the server sends ------------------------------------------------------------

    async def _receive(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                self._handle(raw, timing.now())
        except ConnectionClosed:
            pass
        self.log.closed_at = timing.now()
        if self.log.ended_by is None:
            self.log.ended_by = "server"

    def _handle(self, raw: str | bytes, now: float) -> None:
        errors = self.log.protocol_errors
        try:
            message = json.loads(raw)
            event, sid = message["event"], message["streamSid"]
        except (ValueError, KeyError, TypeError):
            errors.append(f"unreadable message: {str(raw)[:80]}")
            return
        if sid != self.stream_sid:
            errors.append(f"{event} for stream {sid!r}, not ours")
            return
        if event == "media":
            try:
                ulaw = base64.b64decode(message["media"]["payload"], validate=True)
            except (KeyError, TypeError, binascii.Error):
                errors.append("media without a valid base64 payload")
                return
            self.log.media_received.append(now)
            self.playback.add_audio(now, ulaw_to_pcm16(ulaw))
        elif event == "mark":
            name = str(message.get("mark", {}).get("name", ""))
            self.log.marks_received.append((now, name))
            self.playback.add_mark(now, name)
            self._mark_wake.set()
        elif event == "clear":
            self.log.clears_received.append(now)
            pending = self.playback.clear(now)
            if self.echo_marks_on_clear:
                self._echo_now.extend(pending)
            self._mark_wake.set()
        else:
            errors.append(f"unknown event {event!r}")

    async def _echo_marks(self) -> None:
        """Echo each mark when the audio before it has played (at once, after a clear)."""
        with contextlib.suppress(ConnectionClosed):
            await self._echo_marks_until_closed()

    async def _echo_marks_until_closed(self) -> None:
        while True:
            self._mark_wake.clear()
            now = timing.now()
            names, self._echo_now = [*self._echo_now, *self.playback.due_marks(now)], []
            for name in names:
                await self._send(Mark(event="mark", stream_sid=self.stream_sid,
                                      mark=MarkName(name=name)))  # fmt: skip
                self.log.marks_echoed.append((now, name))
            due = self.playback.next_mark_due()
            try:
                async with asyncio.timeout_at(due):
                    await self._mark_wake.wait()
            except TimeoutError:
                pass

    # --- measurements ---------------------------------------------------------------------

    def heard_since_last_utterance(self, now: float) -> float:
        last = self.log.utterances[-1].ended if self.log.utterances else float("-inf")
        return self.playback.heard_seconds(now, since=last)

    def barge_in_delay(self, utterance: Utterance) -> float | None:
        """Onset of the caller's speech to the first `clear` received after it."""
        return delay_to_next(utterance.onset, self.log.clears_received)

    def voice_to_voice(self, utterance: Utterance) -> float | None:
        """End of the caller's speech to the first agent audio received after it."""
        return delay_to_next(utterance.speech_end, self.log.media_received)

    def frame_lateness(self) -> list[float]:
        """How late each media frame left, in seconds (event-loop lag on the caller's side)."""
        return [sent - due for due, sent in self.log.frames]


def delay_to_next(start: float | None, times: Sequence[float]) -> float | None:
    """From `start` to the first of `times` at or after it (None if either is missing)."""
    if start is None:
        return None
    first = next((t for t in times if t >= start), None)
    return None if first is None else first - start
