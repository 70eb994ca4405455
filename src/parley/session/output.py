"""The playout scheduler: paces agent audio in real time and knows what was played.

It holds the whole audio of the current response and sends it in fixed frames, at most
`lookahead` ahead of the listener's playhead. The playhead is modelled from what was sent
and when: a frame plays from max(its send time, the end of the previous frame). So:
- pausing is moving a read position back to the playhead, and resuming is exact (inv. 5);
- stopping drops what is buffered and tells the transport to clear, which then holds at
  most `lookahead` of audio, all of it unheard (invariant 2);
- audio pushed for any response but the current one is dropped on arrival (invariant 3).
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from parley import timing
from parley.audio.frames import SAMPLE_WIDTH, AudioFrame
from parley.conversation.inputs import ConversationInput, PlaybackFinished, PlaybackStarted
from parley.session.port import OutboundAudio, Transport
from parley.session.taps import AudioTaps

# Times closer than this are the same time: float sums of frame durations drift by ulps, and
# waiting for a deadline a few ulps away would spin on clocks that cannot represent it.
_EPSILON = 1e-6


@dataclass(slots=True)
class _Sent:
    plays_at: float
    end: int  # byte offset in the response just after this frame


class PlayoutScheduler:
    def __init__(
        self,
        transport: Transport,
        notify: Callable[[ConversationInput], None],
        *,
        frame_duration: float = 0.02,
        lookahead: float = 0.1,
        taps: AudioTaps | None = None,
    ) -> None:
        if not 0 < lookahead <= 0.2:
            raise ValueError("lookahead must be in (0, 0.2] seconds")
        self.sample_rate = transport.output_sample_rate
        self._transport = transport
        self._notify = notify
        self._frame_duration = frame_duration
        self._frame_bytes = round(frame_duration * self.sample_rate) * SAMPLE_WIDTH
        self._lookahead = lookahead
        self._taps = taps if taps is not None else AudioTaps()  # recordings: where audio plays
        self._response: str | None = None
        self._audio = bytearray()
        self._read = 0  # next byte to send
        self._played = 0  # bytes whose playback has started
        self._confirmed = 0  # bytes the transport reports as heard
        self._sent: deque[_Sent] = deque()  # sent, not yet started playing
        self._generation_done = False
        self._paused = False
        self._started = False
        self._listener_free_at = 0.0
        self._sent_since_clear = False  # something was sent since the last clear
        self._wake = asyncio.Event()
        self.stale_chunks_dropped = 0
        self.frames_sent = 0

    # --- called by the session, synchronously ---------------------------------------------

    @property
    def response_id(self) -> str | None:
        return self._response

    def start(self, response_id: str, *, held: bool = False) -> None:
        """Make `response_id` current; any other response's audio is gone from now on.
        `held`: keep its audio unsent until `resume` (a preemptive answer)."""
        if self._response is not None:
            self.stop()
        # A transport may change its output rate between responses (a Realtime client's
        # session.update of the output format): each response is paced at the rate of its start.
        if self._transport.output_sample_rate != self.sample_rate:
            self.sample_rate = self._transport.output_sample_rate
            self._frame_bytes = round(self._frame_duration * self.sample_rate) * SAMPLE_WIDTH
        self._response = response_id
        self._audio = bytearray()
        self._read = self._played = self._confirmed = 0
        self._sent.clear()
        self._generation_done = self._started = False
        self._paused = held
        self._wake.set()

    def push(self, response_id: str, pcm: bytes) -> bool:
        """Add audio of a response; False (and dropped) if it is not the current one."""
        if response_id != self._response:
            self.stale_chunks_dropped += 1
            return False
        self._audio += pcm
        self._wake.set()
        return True

    def end(self, response_id: str) -> None:
        """The response's generation is over: once its audio has played, it is finished."""
        if response_id == self._response:
            self._generation_done = True
            self._wake.set()

    def played(self) -> float:
        """Seconds of the current response heard so far (confirmed, or modelled)."""
        self._advance(timing.now())
        return self._heard_bytes() / SAMPLE_WIDTH / self.sample_rate

    def confirm(self, response_id: str, played: float) -> None:
        """The transport reports that `played` seconds of the response were heard (a
        position that is not a finite number of seconds says nothing, and is ignored)."""
        if response_id == self._response and math.isfinite(played) and played >= 0:
            heard = round(played * self.sample_rate) * SAMPLE_WIDTH
            self._confirmed = min(max(self._confirmed, heard), self._read)

    def pause(self) -> float:
        """Stop sending now and forget what the listener has not heard; returns played s."""
        played = self._rewind()
        self._paused = True
        return played

    def resume(self) -> None:
        self._paused = False
        self._wake.set()

    def stop(self) -> float:
        """Drop the current response entirely; returns how much of it had played."""
        played = self._rewind()
        self._response = None
        self._audio = bytearray()
        self._read = self._played = 0
        return played

    def drop(self, response_id: str) -> None:
        if response_id == self._response:
            self.stop()

    # --- the pacing loop ------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            self._wake.clear()
            now = timing.now()
            self._advance(now)
            deadline = self._step(now)
            if deadline is None:
                await self._wake.wait()
            elif deadline > now + _EPSILON:
                try:
                    async with asyncio.timeout_at(deadline):
                        await self._wake.wait()
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(0)  # never spin without yielding to the loop

    def _step(self, now: float) -> float | None:
        """Send what is due; return when to look again (None: when something changes)."""
        response = self._response
        if response is None or self._paused:
            return None
        while self._read < len(self._audio):
            frame_end = min(self._read + self._frame_bytes, len(self._audio))
            if frame_end - self._read < self._frame_bytes and not self._generation_done:
                return None  # wait for a whole frame unless it is the tail
            plays_at = max(now, self._listener_free_at)
            duration = (frame_end - self._read) / SAMPLE_WIDTH / self.sample_rate
            if plays_at + duration - now > self._lookahead + _EPSILON:
                return plays_at + duration - self._lookahead
            self._send(response, frame_end, plays_at, duration)
        if not self._generation_done:
            return None
        if self._sent:
            return self._listener_free_at  # the last frame is still playing
        if now + _EPSILON < self._listener_free_at:
            return self._listener_free_at
        played = self._played / SAMPLE_WIDTH / self.sample_rate
        self._response = None
        self._notify(PlaybackFinished(now, response, played))
        return None

    def _send(self, response: str, frame_end: int, plays_at: float, duration: float) -> None:
        frame = AudioFrame(bytes(self._audio[self._read : frame_end]), self.sample_rate)
        offset = self._read / SAMPLE_WIDTH / self.sample_rate
        self._transport.send_audio(OutboundAudio(response, frame, offset))
        if self._taps:
            self._taps.agent_audio(plays_at, frame)
        self.frames_sent += 1
        self._sent_since_clear = True
        self._sent.append(_Sent(plays_at, frame_end))
        self._listener_free_at = plays_at + duration
        self._read = frame_end
        if plays_at <= timing.now() + _EPSILON:
            self._advance(plays_at)
        if not self._started:
            self._started = True
            self._notify(PlaybackStarted(plays_at, response))

    def _heard_bytes(self) -> int:
        """Where the listener is: reported by the transport if it can, else the model's."""
        if self._transport.reports_playback:
            return min(self._played, self._confirmed)
        return self._played

    def _advance(self, now: float) -> None:
        while self._sent and self._sent[0].plays_at <= now + _EPSILON:
            self._played = self._sent.popleft().end

    def _rewind(self) -> float:
        """Take back everything sent but not yet playing, and have the transport drop it."""
        now = timing.now()
        self._advance(now)
        self._sent.clear()
        self._played = self._heard_bytes()
        self._read = self._played
        self._listener_free_at = now
        if self._sent_since_clear:
            self._sent_since_clear = False
            self._transport.clear_audio()
            if self._taps:
                self._taps.agent_cleared(now)
        return self._played / SAMPLE_WIDTH / self.sample_rate
