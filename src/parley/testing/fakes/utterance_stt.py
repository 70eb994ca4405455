"""A scripted whole-utterance STT (like Whisper) for tests on the virtual clock.

It streams through the real `UtteranceSTTStream` (prefix padding, speculation, partials
while the agent is paused); only `transcribe` is scripted. Each speech segment takes the next
utterance of the script, and a transcription of its audio takes `latency` seconds and hears
the words its voiced audio holds: word k once (k + 0.75) / `words_per_second` seconds of
voiced audio are in it, so a run over part of the speech gives its first words, as Whisper
does on a cut utterance. It records every run: when, on how much voiced audio, what it said,
and the most runs ever in flight at once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import STTStream
from parley.providers.utterance_stt import UtteranceSTT, UtteranceSTTStream

_CHUNK_S = 0.01  # voiced audio is counted in 10 ms pieces
_VOICED_RMS = 0.01  # -40 dBFS, as the energy VAD


@dataclass(frozen=True, slots=True)
class Run:
    started: float
    ended: float
    voiced: float  # seconds of voiced audio it was given
    text: str


class ScriptedUtteranceSTT(UtteranceSTT):
    name = "fake-utterance"

    def __init__(
        self,
        utterances: Sequence[str] = (),
        *,
        latency: float = 0.45,
        words_per_second: float = 3.0,
        speculation_delay: float | None = 0.15,
        paused_partial_delay: float | None = 0.2,
        paused_partial_interval: float = 0.3,
    ) -> None:
        self._script: deque[str] = deque(utterances)
        self.latency = latency
        self.words_per_second = words_per_second
        self.speculation_delay = speculation_delay
        self.paused_partial_delay = paused_partial_delay
        self.paused_partial_interval = paused_partial_interval
        self.runs: list[Run] = []
        self.running = 0
        self.most_running = 0
        self._said: dict[int, str] = {}  # id of a captured frame -> its utterance's text
        self.streams: list[UtteranceSTTStream] = []

    def stream(self, policy: TurnTakingPolicy) -> STTStream:
        stream = _ScriptedStream(self, policy)
        self.streams.append(stream)
        return stream

    def next_utterance(self) -> str:
        return self._script.popleft() if self._script else ""

    def mark(self, frame: AudioFrame, text: str) -> None:
        self._said[id(frame)] = text

    async def transcribe(self, audio: AudioFrame) -> str:
        text = self._said.pop(id(audio), "")
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.running -= 1
        voiced = _voiced_seconds(audio)
        words = text.split()
        heard = [w for k, w in enumerate(words) if voiced >= (k + 0.75) / self.words_per_second]
        said = " ".join(heard)
        self.runs.append(Run(started, loop.time(), voiced, said))
        return said


class _ScriptedStream(UtteranceSTTStream):
    """Tags each snapshot of the capture with the utterance it belongs to."""

    def __init__(self, stt: ScriptedUtteranceSTT, policy: TurnTakingPolicy) -> None:
        super().__init__(stt, policy)
        self._fake = stt
        self._text = ""

    def speech_started(self) -> None:
        if not self.capturing:
            self._text = self._fake.next_utterance()
        super().speech_started()

    def _captured(self) -> AudioFrame:
        frame = super()._captured()
        self._fake.mark(frame, self._text)
        return frame


def _voiced_seconds(audio: AudioFrame) -> float:
    samples = audio.as_float()
    size = round(_CHUNK_S * audio.sample_rate)
    chunks = samples[: len(samples) // size * size].reshape(-1, size)
    loud = np.sqrt(np.mean(chunks**2, axis=1)) > _VOICED_RMS
    return float(np.count_nonzero(loud)) * _CHUNK_S
