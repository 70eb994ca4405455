"""ElevenLabs multi-context websocket: server messages, and turning character alignment into
word timings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from parley.types import TimedWord


class Alignment(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    chars: list[str] = []
    char_start_times_ms: list[float] = Field(default_factory=list, alias="charStartTimesMs")
    char_durations_ms: list[float] = Field(default_factory=list, alias="charDurationsMs")


class ServerMessage(BaseModel):
    """Audio (with alignment) of a context, its end (isFinal), or an error."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    audio: str | None = None
    context_id: str | None = Field(None, alias="contextId")
    is_final: bool | None = Field(None, alias="isFinal")
    alignment: Alignment | None = None
    normalized_alignment: Alignment | None = Field(None, alias="normalizedAlignment")
    error: str | None = None
    message: str | None = None
    code: int | None = None


class WordAligner:
    """Builds words from the characters of consecutive chunks of one context's audio.

    Alignment times are relative to each chunk, so each chunk's are shifted by the audio
    before it. A word may straddle two chunks: a word is only given out once a space (or
    the end of the speech) follows it.
    """

    def __init__(self) -> None:
        self._word = ""
        self._start = 0.0
        self._end = 0.0
        self.spoken_chars = 0  # non-space characters aligned so far

    def add(self, alignment: Alignment | None, offset: float) -> list[TimedWord]:
        if alignment is None:
            return []
        words: list[TimedWord] = []
        a = alignment
        timed = zip(a.chars, a.char_start_times_ms, a.char_durations_ms, strict=False)
        for char, start_ms, duration_ms in timed:
            if char.isspace():
                words.extend(self._finish())
                continue
            start = offset + start_ms / 1000
            if not self._word:
                self._start = start
            self._word += char
            self._end = start + duration_ms / 1000
            self.spoken_chars += 1
        return words

    def finish(self) -> list[TimedWord]:
        return self._finish()

    def _finish(self) -> list[TimedWord]:
        if not self._word:
            return []
        word = TimedWord(self._word, self._start, self._end)
        self._word = ""
        return [word]


def visible_chars(text: str) -> int:
    return sum(not c.isspace() for c in text)
