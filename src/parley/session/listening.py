"""The input path: every inbound frame reaches VAD and STT at once (invariant 1).

`InputPath.accept` is synchronous and cheap: resample, hand the frame to STT (a non-blocking
push), run the VAD, and turn its decisions into conversation inputs. Nothing here awaits,
so nothing that happens elsewhere (a cancellation, a provider close) can delay a frame.

`STTRunner` owns the STT stream: a supervised task reads transcripts; when the stream fails
it reports the failure, closes the old stream in the background and opens a new one, into
which frames flow from then on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from parley.audio.frames import AudioFrame, bytes_for
from parley.audio.resample import StreamResampler, resample
from parley.conversation.inputs import (
    ConversationInput,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    TranscriptFailed,
    TranscriptReceived,
)
from parley.conversation.policy import TurnTakingPolicy
from parley.events import ErrorEvent, SessionEvent
from parley.problems import ProblemCounter
from parley.providers.base import (
    STT,
    VAD,
    STTStream,
    VADEvent,
    VADEventKind,
    VADOutput,
    VADStream,
)
from parley.session.supervisor import Supervisor

log = logging.getLogger("parley.input")

TURN_AUDIO_S = 8.0  # the most of the person's latest audio a turn detector is given


class STTRunner:
    def __init__(
        self,
        stt: STT,
        policy: Callable[[], TurnTakingPolicy],
        supervisor: Supervisor,
        notify: Callable[[ConversationInput], None],
    ) -> None:
        self._stt = stt
        self._policy = policy  # the settings in force now: a reopened stream gets them
        self._supervisor = supervisor
        self._notify = notify
        self._stream: STTStream = stt.stream(policy())
        self._agent_paused = False
        self.failures = 0

    @property
    def stream(self) -> STTStream:
        """The live stream; the input path pushes every frame into it."""
        return self._stream

    def agent_paused(self, paused: bool) -> None:
        """Tell the stream (and any reopened one) whether the agent waits for words."""
        if paused != self._agent_paused:
            self._agent_paused = paused
            self._stream.agent_paused(paused)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        consecutive = 0
        while True:
            stream = self._stream
            try:
                async for transcript in stream:
                    consecutive = 0
                    self._notify(TranscriptReceived(
                        loop.time(), transcript.text, transcript.final, transcript.complete
                    ))  # fmt: skip
                message = "STT stream ended"
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self.failures += 1
            consecutive += 1
            log.warning("STT stream failed (%s); reopening", message)
            self._stream = self._stt.stream(self._policy())
            if self._agent_paused:
                self._stream.agent_paused(True)
            self._supervisor.clean_up("STT stream close", stream.aclose())
            self._notify(TranscriptFailed(loop.time(), message))
            # Back off when the provider fails again at once, without ever dropping audio:
            # frames queue in the new stream meanwhile.
            await asyncio.sleep(min(5.0, 0.1 * 2 ** (consecutive - 1)) if consecutive > 1 else 0)

    async def aclose(self) -> None:
        await self._stream.aclose()


class InputPath:
    def __init__(
        self,
        vad: VAD,
        stt: STTRunner,
        policy: TurnTakingPolicy,
        sample_rate: int,
        notify: Callable[[ConversationInput], None],
        emit: Callable[[SessionEvent], None],
    ) -> None:
        self.sample_rate = sample_rate
        self._vad = vad
        self._policy = policy
        self._vad_stream: VADStream = vad.stream(policy, sample_rate)
        self._vad_stream.listen(self._late_decisions)
        self._now = 0.0  # when the latest frame was accepted
        self._stt = stt
        self._notify = notify
        self._emit = emit
        self._resampler: StreamResampler | None = None
        self._position = 0  # samples accepted at the pipeline rate
        self._vad_start = 0  # where in them the current VAD stream began (its offset 0)
        self._vad_errors = ProblemCounter()
        self._client_speaking = False
        self._vad_speaking = False  # the VAD stream has started speech and not ended it
        self._last_voiced = 0.0  # clock time of the last voiced audio before a pause
        # The latest audio at the pipeline rate (bounded), for a turn detector, and where in
        # the accepted samples the current speech began (its onset, less the prefix padding).
        self._recent = bytearray()
        self._recent_cap = round(TURN_AUDIO_S * sample_rate) * 2
        self._speech_from = 0
        self.frames = 0

    @property
    def policy(self) -> TurnTakingPolicy:
        """The settings the VAD stream was built with."""
        return self._policy

    def accept(self, frame: AudioFrame, now: float) -> None:
        """Take one inbound frame, received at `now`."""
        self.frames += 1
        resampler = self._resampler
        if resampler is None or resampler.from_rate != frame.sample_rate:
            if resampler is not None:  # the rate changed: the old filter's tail goes first
                self._listen(
                    resampler.process(AudioFrame(b"", resampler.from_rate), last=True), now
                )
            self._resampler = resampler = StreamResampler(frame.sample_rate, self.sample_rate)
        self._listen(resampler.process(frame), now)

    def _listen(self, audio: AudioFrame, now: float) -> None:
        """Audio at the pipeline rate: to STT first, then through the VAD."""
        if not audio.samples:
            return
        self._position += audio.samples
        self._stt.stream.push_audio(audio)
        self._recent += audio.pcm
        if len(self._recent) > 2 * self._recent_cap:  # trim now and then, not every frame
            del self._recent[: len(self._recent) - self._recent_cap]
        self._now = now
        try:
            decisions = self._vad_stream.process(audio).events
        except Exception as exc:
            self._report_vad_error(exc)
            return
        self._decide(decisions, now)

    def _late_decisions(self, output: VADOutput | Exception) -> None:
        """Decisions of a batching VAD, within a loop iteration of the frame that completed
        their window: mapped onto the clock as of the latest frame."""
        if isinstance(output, Exception):
            self._report_vad_error(output)
        else:
            self._decide(output.events, self._now)

    def _decide(self, decisions: tuple[VADEvent, ...], now: float) -> None:
        end = (self._position - self._vad_start) / self.sample_rate
        stt = self._stt.stream
        for decision in decisions:
            # Map the decision's audio position onto the clock: this frame ends at `now`.
            at_clock = now - (end - decision.offset)
            match decision.kind:
                case VADEventKind.START:
                    self._vad_speaking = True
                    padding = round(self._policy.prefix_padding_ms * self.sample_rate / 1000)
                    onset = self._vad_start + round(decision.offset * self.sample_rate)
                    self._speech_from = max(0, onset - padding)
                    stt.speech_started()
                    self._notify(SpeechStarted(now, onset=at_clock))
                case VADEventKind.END:
                    self._vad_speaking = False
                    stt.speech_ended()
                    self._notify(SpeechEnded(now, last_voiced=at_clock))
                case VADEventKind.PAUSE:
                    self._last_voiced = at_clock
                    stt.speech_paused()
                    self._notify(SpeechPaused(now, last_voiced=at_clock))
                case VADEventKind.RESUME:
                    stt.speech_resumed()
                    self._notify(SpeechResumed(now))

    def turn_audio(self) -> AudioFrame:
        """The person's audio since their current speech began (at most TURN_AUDIO_S of its
        end), at the pipeline rate: what a turn detector judges."""
        wanted = min((self._position - self._speech_from) * 2, self._recent_cap)
        start = max(0, len(self._recent) - wanted)
        return AudioFrame(bytes(self._recent[start:]), self.sample_rate)

    def end_turn(self, now: float) -> None:
        """The conversation judged the turn over during a pause: end the speech there."""
        if self._vad_speaking:
            self.end_speech(now, last_voiced=self._last_voiced)

    def restart_vad(self, policy: TurnTakingPolicy, now: float) -> None:
        """Use new turn-taking settings: a fresh VAD stream (see end_speech)."""
        self._policy = policy
        self.end_speech(now)

    def end_speech(self, now: float, *, last_voiced: float | None = None) -> None:
        """Start the VAD afresh, ending speech in progress here (a settings change, or a
        client saying its speech is over).

        The new stream knows nothing of the old one's speech, so that speech ends here; if
        the person goes on, the new stream starts it again and, within the merge gap, it
        joins the same turn. Without this the conversation would wait for an end that
        never comes.
        """
        self._vad_stream.close()
        self._vad_stream = self._vad.stream(self._policy, self.sample_rate)
        self._vad_stream.listen(self._late_decisions)
        self._vad_start = self._position
        if self._vad_speaking:
            self._vad_speaking = False
            self._stt.stream.speech_ended()
            self._notify(SpeechEnded(now, last_voiced=now if last_voiced is None else last_voiced))

    def client_speech_started(self, now: float) -> None:
        """The client's VAD heard speech begin: the same decision, made elsewhere."""
        if self._client_speaking:
            return
        self._client_speaking = True
        self._stt.stream.speech_started()
        self._notify(SpeechStarted(now, onset=now))

    def client_utterance(self, audio: AudioFrame, now: float) -> None:
        """A whole utterance cut by the client's VAD: transcribe it, and its speech is over."""
        self.client_speech_started(now)
        self._client_speaking = False
        audio = resample(audio, self.sample_rate)
        step = bytes_for(0.1, self.sample_rate)  # 100 ms pieces suit streaming STTs too
        for start in range(0, len(audio.pcm), step):
            self._stt.stream.push_audio(
                AudioFrame(audio.pcm[start : start + step], audio.sample_rate)
            )
        self._stt.stream.speech_ended()
        self._notify(SpeechEnded(now, last_voiced=now))

    def _report_vad_error(self, exc: Exception) -> None:
        message = f"VAD failed on a frame ({type(exc).__name__}: {exc}); frame skipped"
        if self._vad_errors.note(
            "vad_failed", log, message
        ):  # clients get the log's sparse reports
            self._emit(ErrorEvent("vad_failed", message))

    def close(self) -> None:
        self._vad_stream.close()
