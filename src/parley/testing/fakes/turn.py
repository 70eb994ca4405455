"""A scripted turn detector: answers on the session clock, or fails, or never answers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from parley.audio.frames import AudioFrame
from parley.providers.base import TurnDetector

# One scripted answer: a probability, an exception to raise, or None to hang until cancelled.
TurnAnswer = float | Exception | None


class FakeTurnDetector(TurnDetector):
    """Answers `answers` in order (the last one repeats), each after `latency` seconds."""

    name = "fake"

    def __init__(self, answers: Sequence[TurnAnswer] | float = 0.9, latency: float = 0.05) -> None:
        self._answers: list[TurnAnswer] = (
            [float(answers)] if isinstance(answers, (int, float)) else list(answers)
        )
        self._latency = latency
        self.heard: list[float] = []  # seconds of audio each question carried

    async def predict(self, audio: AudioFrame) -> float:
        self.heard.append(audio.duration)
        index = min(len(self.heard), len(self._answers)) - 1
        answer = self._answers[index]
        await asyncio.sleep(self._latency)
        if answer is None:
            await asyncio.Event().wait()  # a hung model
        if isinstance(answer, Exception):
            raise answer
        assert answer is not None
        return answer
