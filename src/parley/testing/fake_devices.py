"""Audio devices on the event loop's clock, for tests (virtual with looptime, or real).

One ticker drives both streams block by block, as a sound card would: the speaker's block is
taken first, then the microphone's is made of what the test `say`s plus, if asked, the
speaker's own output fed back after a delay at a gain (the echo of a room). Everything the
speaker played is kept with its time, so a test can hear what a person would have.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

import numpy as np

from parley.audio.frames import AudioFrame
from parley.audio.resample import resample
from parley.desktop.devices import (
    AudioDevices,
    DeviceInfo,
    InputCallback,
    OutputCallback,
    Samples,
    Stream,
)


@dataclass(frozen=True, slots=True)
class SpeakerBlock:
    at: float  # loop time the block started playing
    samples: Samples


class _FakeStream:
    def __init__(self, devices: FakeDevices, rate: int, block: int) -> None:
        self._devices = devices
        self.rate = rate
        self.block = block

    def start(self) -> None:
        self._devices._start()

    def close(self) -> None:
        self._devices._stop()


class FakeDevices(AudioDevices):
    def __init__(
        self,
        rate: int = 16000,
        *,
        echo_gain: float = 0.0,
        echo_delay_s: float = 0.04,
    ) -> None:
        self.rate = rate
        self.echo_gain = echo_gain
        self._echo_delay = round(echo_delay_s * rate)
        self._speech: deque[int] = deque()  # samples the "person" says next
        self._echo_line = np.zeros(self._echo_delay, dtype=np.float64)
        self._mic: InputCallback | None = None
        self._speaker: OutputCallback | None = None
        self._block = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.played: list[SpeakerBlock] = []
        self.captured: list[Samples] = []
        self.voiced: list[bool] = []  # per captured block: did the person speak in it

    def list(self) -> list[DeviceInfo]:
        return [
            DeviceInfo(0, "fake microphone", 1, 0, self.rate, default_input=True),
            DeviceInfo(1, "fake speaker", 0, 2, self.rate, default_output=True),
        ]

    def open_input(
        self, device: int | str | None, rate: int | None, block_s: float, callback: InputCallback
    ) -> Stream:
        self._mic = callback
        self._block = round(self.rate * block_s)
        return _FakeStream(self, self.rate, self._block)

    def open_output(
        self, device: int | str | None, rate: int | None, block_s: float, callback: OutputCallback
    ) -> Stream:
        self._speaker = callback
        self._block = round(self.rate * block_s)
        return _FakeStream(self, self.rate, self._block)

    # --- the test's side ------------------------------------------------------------------

    def say(self, audio: AudioFrame) -> None:
        """The person speaks `audio` into the microphone from the next block on."""
        self._speech.extend(resample(audio, self.rate).as_array().tolist())

    @property
    def speaking(self) -> bool:
        return bool(self._speech)

    def speaker_samples(self, since: float = 0.0) -> Samples:
        blocks = [b.samples for b in self.played if b.at >= since]
        return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16)

    # --- the clock ------------------------------------------------------------------------

    def _start(self) -> None:
        if self._ticker is None:
            self._loop = asyncio.get_running_loop()
            self._ticker = self._loop.create_task(self._tick())

    def _stop(self) -> None:
        """Stop the clock (from any thread); the next stream's start starts a new one."""
        loop, ticker, self._ticker = self._loop, self._ticker, None
        if loop is not None and ticker is not None and not loop.is_closed():
            loop.call_soon_threadsafe(ticker.cancel)

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        period = self._block / self.rate
        index = 0
        while True:
            now = started + index * period
            if self._speaker is not None:
                out = np.zeros(self._block, dtype=np.int16)
                self._speaker(out)
                self.played.append(SpeakerBlock(now, out))
                line = np.concatenate((self._echo_line, out.astype(np.float64)))
                echo, self._echo_line = line[: self._block], line[self._block :]
            else:
                echo = np.zeros(self._block)
            index += 1
            # A captured block leaves when its last sample is in: one period later.
            await asyncio.sleep(max(0.0, started + index * period - loop.time()))
            if self._mic is not None:
                take = min(self._block, len(self._speech))
                voice = np.zeros(self._block)
                voice[:take] = [self._speech.popleft() for _ in range(take)]
                mic = np.clip(voice + self.echo_gain * echo, -32768, 32767).astype(np.int16)
                self.captured.append(mic)
                self.voiced.append(take > 0)
                self._mic(mic)
