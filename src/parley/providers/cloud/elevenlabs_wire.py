"""ElevenLabs multi-context websocket: server messages, and turning character alignment into
word timings.

Alignment is best effort: a message may carry audio with no alignment at all (null), or
with null lists, and the characters may be split across messages differently from the audio
(a word straddling two messages). Nothing here depends on the alignment covering the text.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from parley.types import TimedWord


class Alignment(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    # Each list may be null (the API schema marks them optional); null reads as empty.
    chars: list[str] | None = None
    char_start_times_ms: list[float] | None = Field(None, alias="charStartTimesMs")
    char_durations_ms: list[float] | None = Field(None, alias="charDurationsMs")


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

    def add(self, alignment: Alignment | None, offset: float) -> list[TimedWord]:
        if alignment is None:
            return []
        words: list[TimedWord] = []
        a = alignment
        timed = zip(
            a.chars or [], a.char_start_times_ms or [], a.char_durations_ms or [], strict=False
        )
        for char, start_ms, duration_ms in timed:
            if char.isspace():
                words.extend(self._finish())
                continue
            start = offset + start_ms / 1000
            if not self._word:
                self._start = start
            self._word += char
            self._end = start + duration_ms / 1000
        return words

    def finish(self) -> list[TimedWord]:
        return self._finish()

    def _finish(self) -> list[TimedWord]:
        if not self._word:
            return []
        word = TimedWord(self._word, self._start, self._end)
        self._word = ""
        return [word]
