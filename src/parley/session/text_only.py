"""A response in text only (a Realtime client's `output_modalities: ["text"]`).

It stands in for the TTS stream, so the responder runs as ever: each segment goes to the
client (the responder's AgentTranscript) and becomes words the person has "heard" at once,
since the text reached them as it was sent; there is no audio, so the output finishes the
response as soon as the text ends. A cancelled text response keeps the text that was sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from parley import timing
from parley.conversation.inputs import ConversationInput, WordsAligned
from parley.providers.base import TTSChunk, TTSStream
from parley.types import TimedWord

SENT = -1.0  # a sent word's time: before any audio position, so every cut keeps it


class TextOnlyStream(TTSStream):
    def __init__(self, response_id: str, notify: Callable[[ConversationInput], None]) -> None:
        self._response_id = response_id
        self._notify = notify
        self._ended = asyncio.Event()

    def push_text(self, text: str) -> None:
        words = tuple(TimedWord(word, SENT, SENT) for word in text.split())
        if words:
            self._notify(WordsAligned(timing.now(), self._response_id, words))

    def end_input(self) -> None:
        self._ended.set()

    async def _chunks(self) -> AsyncIterator[TTSChunk]:
        await self._ended.wait()
        return
        yield  # an async generator with no chunks

    def __aiter__(self) -> AsyncIterator[TTSChunk]:
        return self._chunks()
