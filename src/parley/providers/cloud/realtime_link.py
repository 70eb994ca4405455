"""One OpenAI Realtime session per parley session, shared by the four facets.

The link holds what the facets share: the connection in use (which is the STT facet's
stream: its iterator runs the socket), the server's VAD decisions for the VAD facet, the
responses in flight for the LLM and TTS facets, and the person's audio items since the last
response. See realtime.py for how the facets use it, and docs/providers.md for the design.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from parley.audio.codecs import ulaw_to_pcm16
from parley.audio.frames import AudioFrame
from parley.conversation.backchannel import words_of
from parley.providers.base import ProviderError, TTSChunk, VADEventKind
from parley.providers.cloud.config import OpenAIRealtimeSettings
from parley.providers.segment_tts import estimate_word_timings
from parley.types import ChatMessage

log = logging.getLogger("parley.cloud.realtime")
PROVIDER = "openai-realtime"
INPUT_RATE = 24000


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
    """One parley response: a response.create and everything the server sends for it."""

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


@dataclass
class UserItem:
    id: str
    transcript: str | None = None


class RealtimeLink:
    def __init__(self, settings: OpenAIRealtimeSettings) -> None:
        self.settings = settings
        self.server_vad = False  # the VAD facet is in use: the server's VAD decides
        self.connections = 0  # connections (STT facet streams) opened so far
        self.send: Callable[[dict[str, Any]], None] = self._not_connected
        # The server's VAD decisions, placed on the link's timeline: samples pushed to the
        # STT facet, over every connection. The VAD facet moves them onto its stream's own.
        self.pushed = 0
        self.vad_events: deque[tuple[VADEventKind, int]] = deque()
        self.speaking = False  # the server said speech started and has not said it stopped
        self.lost_ends = 0  # queued ENDs of lost connections: no words will answer them
        self.output_rate = 24000  # audio/pcm; 8000 with audio/pcmu
        self.instructions: str | None = None
        self.needs_seed = False  # a new connection lacks the conversation so far
        self.user_items: list[UserItem] = []  # committed since the last response.create
        self._responses = itertools.count(1)
        self._events = itertools.count(1)
        self.awaiting_created: deque[Response] = deque()
        self.by_server_id: dict[str, Response] = {}
        self.by_event_id: dict[str, Response] = {}
        self.unpaired: Response | None = None  # created by the LLM facet, for the TTS facet

    def _not_connected(self, event: dict[str, Any]) -> None:
        raise ProviderError(f"{PROVIDER}: no connection (the STT facet opens it)")

    def event_id(self) -> str:
        return f"parley_{next(self._events)}"

    # --- responses ------------------------------------------------------------------------

    def new_response(self) -> Response:
        response = Response(next(self._responses))
        self.unpaired = response
        return response

    def request(self, response: Response, messages: tuple[ChatMessage, ...]) -> None:
        """Bring the server's conversation in line with parley's history, then ask for the
        response."""
        if messages and messages[0].role == "system" and messages[0].content != self.instructions:
            self.instructions = messages[0].content
            session = {"type": "realtime", "instructions": self.instructions}
            self.send({"type": "session.update", "session": session})
        if self.needs_seed:
            self._seed(messages)
        else:
            self._forget_unanswered_words(messages)
        self.user_items = []
        response.event_id = self.event_id()
        self.by_event_id[response.event_id] = response
        self.awaiting_created.append(response)
        self.send({"type": "response.create", "event_id": response.event_id})

    def _forget_unanswered_words(self, messages: tuple[ChatMessage, ...]) -> None:
        """Delete the person's audio items that parley's history left out: backchannels
        and noise that resumed the agent rather than starting a turn. The last user message
        is the joined text of the items that make the turn, so they are matched from its end."""
        last = next((m.content for m in reversed(messages) if m.role == "user"), "")
        remaining = words_of(last)
        for item in reversed(self.user_items):
            if item.transcript is None:
                continue  # not transcribed yet: keep it
            words = words_of(item.transcript)
            if words and remaining[-len(words) :] == words:
                remaining = remaining[: -len(words)]
                continue
            self.send({"type": "conversation.item.delete", "item_id": item.id})

    def _seed(self, messages: tuple[ChatMessage, ...]) -> None:
        """On a new connection, the conversation so far goes in as text items (the audio of
        this connection's turns is replaced by their transcripts)."""
        self.needs_seed = False
        for item in self.user_items:
            self.send({"type": "conversation.item.delete", "item_id": item.id})
        for message in messages:
            if message.role == "system" or not message.content:
                continue
            kind = "input_text" if message.role == "user" else "output_text"
            self.send({"type": "conversation.item.create", "item": {
                "type": "message", "role": message.role,
                "content": [{"type": kind, "text": message.content}]}})  # fmt: skip

    def cut(self, response: Response, played: float | None) -> None:
        """parley stopped the response after `played` seconds were heard (None: unknown)."""
        if response.closed:
            return
        response.closed = True
        if not response.done and not response.cancel_sent:
            response.cancel_sent = True
            self.send({"type": "response.cancel", "event_id": self.event_id()})
        if played is not None:
            response.cut_at = played
            if response.done:
                self.truncate(response)

    def truncate(self, response: Response) -> None:
        """Make the server's copy of the response what the person heard."""
        played = response.cut_at
        if played is None:
            return
        response.cut_at = None
        for item in response.items:
            start = item.offset / self.output_rate
            duration = item.samples / self.output_rate
            if played <= start + 1e-6:
                self.send({"type": "conversation.item.delete", "item_id": item.id})
            elif played < start + duration:
                end_ms = int((played - start) * 1000)
                self.send({"type": "conversation.item.truncate", "item_id": item.id,
                           "content_index": 0, "audio_end_ms": end_ms})  # fmt: skip

    # --- server events about responses ---------------------------------------------------

    def created(self, server_id: str) -> None:
        if self.awaiting_created:
            response = self.awaiting_created.popleft()
            self.by_event_id.pop(response.event_id or "", None)  # the request did not fail
            response.server_id = server_id
            self.by_server_id[server_id] = response

    def audio(self, response_id: str, item_id: str, delta: str) -> None:
        response = self.by_server_id.get(response_id)
        if response is None or response.closed:  # a cut response's late audio is dropped
            return
        data = base64.b64decode(delta)
        pcm = ulaw_to_pcm16(data) if self.output_rate == 8000 else data
        item = response.item(item_id)
        item.samples += len(pcm) // 2
        response.audio.put_nowait(TTSChunk(AudioFrame(pcm, self.output_rate)))

    def transcript_delta(self, response_id: str, item_id: str, delta: str) -> None:
        response = self.by_server_id.get(response_id)
        if response is None or response.closed:
            return
        response.item(item_id).transcript += delta
        response.text.put_nowait(delta)

    def item_progress(
        self, response_id: str, item_id: str, *, audio: bool = False, transcript: str | None = None
    ) -> None:
        response = self.by_server_id.get(response_id)
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
            item.transcript, item.offset / self.output_rate, item.samples / self.output_rate
        )
        response.audio.put_nowait(TTSChunk(AudioFrame(b"", self.output_rate), words))

    def response_done(self, server_id: str, status: str | None, details: str) -> None:
        response = self.by_server_id.pop(server_id, None)
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
        self.truncate(response)

    def fail_responses(self, error: ProviderError) -> None:
        """The connection is gone: every response in flight ends with `error`."""
        for response in [*self.awaiting_created, *self.by_server_id.values()]:
            response.fail(error)
        self.awaiting_created.clear()
        self.by_server_id.clear()
        self.by_event_id.clear()

    def request_failed(self, event_id: str | None, error: ProviderError) -> bool:
        response = self.by_event_id.pop(event_id or "", None)
        if response is None:
            return False
        if response in self.awaiting_created:
            self.awaiting_created.remove(response)
        response.fail(error)
        return True
