"""The responses in flight on one OpenAI Realtime link, from response.create to done.

A parley response is asked for by the LLM facet, spoken by the TTS facet and answered by
the socket: its text (the audio transcript) and audio (decoded from pcmu for 8 kHz
transports) go to queues the two facets read, word timings are spread over each output
item's audio, and a response cut short is cancelled and truncated to what was heard.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from parley.audio.codecs import ulaw_to_pcm16
from parley.audio.frames import AudioFrame
from parley.providers.base import ProviderError, TTSChunk
from parley.providers.cloud.realtime_wire import output_format
from parley.providers.segment_tts import estimate_word_timings

PROVIDER = "openai-realtime"


@dataclass
class AudioItem:
    """An output item of a response, with the audio received for it."""

    id: str
    offset: float  # seconds of the response's audio before this item
    samples: int = 0
    transcript: str = ""
    audio_done: bool = False
    transcript_done: bool = False
    words_given: bool = False


@dataclass
class Response:
    """One parley response: a response.create and everything the server sends for it.
    Only `Responses` changes it; the facets read its queues."""

    number: int
    text: asyncio.Queue[str | ProviderError | None] = field(default_factory=asyncio.Queue)
    audio: asyncio.Queue[TTSChunk | ProviderError | None] = field(default_factory=asyncio.Queue)
    event_id: str | None = None  # of its response.create, until the server answers it
    server_id: str | None = None
    items: list[AudioItem] = field(default_factory=list)
    done: bool = False
    closed: bool = False  # parley stopped listening (cancelled): late audio is dropped
    cut_at: float | None = None  # seconds heard, when cut short
    cancel_sent: bool = False

    def item(self, item_id: str) -> AudioItem:
        for item in self.items:
            if item.id == item_id:
                return item
        offset = sum(i.samples for i in self.items)
        item = AudioItem(item_id, offset)
        self.items.append(item)
        return item

    def fail(self, error: ProviderError) -> None:
        if not self.done:
            self.done = True
            self.text.put_nowait(error)
            self.audio.put_nowait(error)


class Responses:
    """The link's responses, changed only through these methods:
    - the responder (the LLM and TTS facets): new_response, pair_response,
      set_output_rate; and ask, from the link's request
    - the session cutting a response short (the TTS stream's interrupted and aclose): cut
    - the socket (the connection's worker task): created, audio, transcript_delta,
      item_progress, response_done, request_failed; fail_all when it fails or is replaced
    """

    __slots__ = (
        "_awaiting_created",
        "_by_event_id",
        "_by_server_id",
        "_event_id",
        "_numbers",
        "_output_rate",
        "_send",
        "_unpaired",
    )

    def __init__(self, send: Callable[[dict[str, Any]], None], event_id: Callable[[], str]) -> None:
        self._send = send  # to the connection in use
        self._event_id = event_id
        self._numbers = itertools.count(1)
        self._output_rate = 24000  # audio/pcm; 8000 with audio/pcmu
        self._awaiting_created: deque[Response] = deque()
        self._by_server_id: dict[str, Response] = {}
        self._by_event_id: dict[str, Response] = {}
        self._unpaired: Response | None = None  # created by the LLM facet, for the TTS facet

    @property
    def output_rate(self) -> int:
        return self._output_rate

    @property
    def by_server_id(self) -> Mapping[str, Response]:
        """Responses the server created and has not finished, by its id."""
        return MappingProxyType(self._by_server_id)

    @property
    def by_event_id(self) -> Mapping[str, Response]:
        """Responses asked for and not yet created, by their response.create's event id."""
        return MappingProxyType(self._by_event_id)

    # --- the responder --------------------------------------------------------------------

    def new_response(self) -> Response:
        response = Response(next(self._numbers))
        self._unpaired = response
        return response

    def pair_response(self) -> Response | None:
        """The response the LLM facet asked for last, for the TTS facet to speak (once)."""
        response, self._unpaired = self._unpaired, None
        return response

    def set_output_rate(self, rate: int) -> None:
        """The TTS facet's output: 24000 (audio/pcm) or 8000 (audio/pcmu)."""
        if rate != self._output_rate:
            self._output_rate = rate
            output = {"format": output_format(rate)}
            self._send({"type": "session.update", "session": {"type": "realtime", "audio": {
                "output": output}}})  # fmt: skip

    def ask(self, response: Response) -> None:
        """Send the response's response.create (the conversation is in line already)."""
        response.event_id = self._event_id()
        self._by_event_id[response.event_id] = response
        self._awaiting_created.append(response)
        self._send({"type": "response.create", "event_id": response.event_id})

    def cut(self, response: Response, played: float | None) -> None:
        """parley stopped the response after `played` seconds were heard (None: unknown)."""
        if response.closed:
            return
        response.closed = True
        if not response.done and not response.cancel_sent:
            response.cancel_sent = True
            self._send({"type": "response.cancel", "event_id": self._event_id()})
        if played is not None:
            response.cut_at = played
            if response.done:
                self._truncate(response)

    def _truncate(self, response: Response) -> None:
        """Make the server's copy of the response what the person heard."""
        played = response.cut_at
        if played is None:
            return
        response.cut_at = None
        for item in response.items:
            start = item.offset / self._output_rate
            duration = item.samples / self._output_rate
            if played <= start + 1e-6:
                self._send({"type": "conversation.item.delete", "item_id": item.id})
            elif played < start + duration:
                end_ms = int((played - start) * 1000)
                self._send({"type": "conversation.item.truncate", "item_id": item.id,
                           "content_index": 0, "audio_end_ms": end_ms})  # fmt: skip

    # --- the socket -----------------------------------------------------------------------

    def created(self, server_id: str) -> None:
        if self._awaiting_created:
            response = self._awaiting_created.popleft()
            self._by_event_id.pop(response.event_id or "", None)  # the request did not fail
            response.server_id = server_id
            self._by_server_id[server_id] = response

    def audio(self, response_id: str, item_id: str, delta: str) -> None:
        response = self._by_server_id.get(response_id)
        if response is None or response.closed:  # a cut response's late audio is dropped
            return
        data = base64.b64decode(delta)
        pcm = ulaw_to_pcm16(data) if self._output_rate == 8000 else data
        item = response.item(item_id)
        item.samples += len(pcm) // 2
        response.audio.put_nowait(TTSChunk(AudioFrame(pcm, self._output_rate)))

    def transcript_delta(self, response_id: str, item_id: str, delta: str) -> None:
        response = self._by_server_id.get(response_id)
        if response is None or response.closed:
            return
        response.item(item_id).transcript += delta
        response.text.put_nowait(delta)

    def item_progress(
        self, response_id: str, item_id: str, *, audio: bool = False, transcript: str | None = None
    ) -> None:
        response = self._by_server_id.get(response_id)
        if response is None:
            return
        item = response.item(item_id)
        item.audio_done = item.audio_done or audio
        if transcript is not None:
            item.transcript, item.transcript_done = transcript, True
        self._give_words(response, item)

    def _give_words(self, response: Response, item: AudioItem, *, final: bool = False) -> None:
        """Word timings for the heard-text history: the item's transcript spread over its
        audio, once both are complete (the Realtime API gives no timings of its own)."""
        ready = item.audio_done and item.transcript_done
        if item.words_given or response.closed or not (ready or final):
            return
        item.words_given = True
        words = estimate_word_timings(
            item.transcript, item.offset / self._output_rate, item.samples / self._output_rate
        )
        response.audio.put_nowait(TTSChunk(AudioFrame(b"", self._output_rate), words))

    def response_done(self, server_id: str, status: str | None, details: str) -> None:
        response = self._by_server_id.pop(server_id, None)
        if response is None:
            return
        for item in response.items:
            self._give_words(response, item, final=True)
        if status == "failed" and not response.closed:
            response.fail(ProviderError(f"{PROVIDER}: the response failed ({details})"))
        elif not response.done:
            response.done = True
            response.text.put_nowait(None)
            response.audio.put_nowait(None)
        self._truncate(response)

    def fail_all(self, error: ProviderError) -> None:
        """The connection is gone: every response in flight ends with `error`."""
        for response in [*self._awaiting_created, *self._by_server_id.values()]:
            response.fail(error)
        self._awaiting_created.clear()
        self._by_server_id.clear()
        self._by_event_id.clear()

    def request_failed(self, event_id: str | None, error: ProviderError) -> bool:
        response = self._by_event_id.pop(event_id or "", None)
        if response is None:
            return False
        if response in self._awaiting_created:
            self._awaiting_created.remove(response)
        response.fail(error)
        return True
