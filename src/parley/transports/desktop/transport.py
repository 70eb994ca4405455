"""The desktop transport: the microphone's blocks in as frames, the agent's audio out to the
speaker. It only translates, like every transport (invariant 9): the session is the same.

Threads: the device callbacks run on the audio system's thread. The microphone's blocks are
handed to the event loop (`call_soon_threadsafe`); the speaker reads a `SpeakerBuffer`. What
the speaker played goes back to the loop as the echo canceller's reference, in order with the
microphone's blocks. Pacing stays with the session's `PlayoutScheduler`, which keeps at most
its lookahead (100 ms) in the buffer, so a clear drops little and the played position is
modelled as for any transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable

import numpy as np

from parley.audio.frames import AudioFrame, rms_dbfs
from parley.desktop.devices import AudioDevices, Samples, Stream
from parley.desktop.echo import ECHO_LEFT_DB, EchoCanceller, EchoGate
from parley.events import SessionEvent
from parley.session.port import Hangup, InboundItem, OutboundAudio, Transport
from parley.transports.desktop.playback import SpeakerBuffer

log = logging.getLogger("parley.desktop")

BLOCK_S = 0.02


class DesktopTransport(Transport):
    def __init__(
        self,
        devices: AudioDevices,
        *,
        input_device: int | str | None = None,
        output_device: int | str | None = None,
        echo: Callable[[int], EchoCanceller | None] | None = None,
        gate: bool = True,
        block_s: float = BLOCK_S,
    ) -> None:
        """`echo` makes the echo canceller for the speaker's rate (None: no cancelling);
        `gate` adds the echo gate behind it (or alone, with a 0 dB margin, without one)."""
        self._devices = devices
        self._input_device = input_device
        self._output_device = output_device
        self._make_echo = echo
        self._block_s = block_s
        self._inbound: asyncio.Queue[InboundItem | None] = asyncio.Queue()
        self._speaker = SpeakerBuffer()
        # Speaker blocks not yet given to the canceller (bounded: a microphone that stopped).
        self._played: deque[Samples] = deque(maxlen=500)
        self._streams: list[Stream] = []
        self._output: Stream | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.echo: EchoCanceller | None = None
        self._gated = gate
        self.gate: EchoGate | None = None
        self.muted = False
        self.hung_up = False
        self.input_rate = 0
        self.mic_level = float("-inf")  # dBFS of the last block, after echo cancelling
        self.speaker_level = float("-inf")
        self.listeners: list[Callable[[SessionEvent], None]] = []
        # Both sides as heard, for --record: (microphone frames, speaker blocks).
        self.heard_mic: list[AudioFrame] = []
        self.heard_speaker: list[Samples] = []
        self.keep_audio = False

    def open(self) -> None:
        """Open both devices (before the session runs: its output paces at their rate)."""
        self._loop = asyncio.get_running_loop()
        out = self._devices.open_output(
            self._output_device, None, self._block_s, self._on_speaker_block
        )
        self._streams.append(out)
        self._output = out
        self.output_sample_rate = out.rate
        if self._make_echo is not None:
            self.echo = self._make_echo(out.rate)
        if self._gated:
            self.gate = EchoGate(ECHO_LEFT_DB if self.echo is not None else 0.0)
        mic = self._devices.open_input(self._input_device, None, self._block_s, self._on_mic_block)
        self._streams.append(mic)
        self.input_rate = mic.rate
        for stream in self._streams:
            stream.start()

    # --- the user's side (keys) -----------------------------------------------------------

    def hang_up(self, reason: str = "caller hung up") -> None:
        """The speaker goes silent now and the call ends; again is harmless. Our buffer is
        muted at once, and the output stream is aborted (in a thread: it can take a few ms),
        which drops what PortAudio and the sound server still hold (measured 40-60 ms on
        PulseAudio, which would otherwise play out)."""
        self._speaker.mute()
        if not self.hung_up:
            self.hung_up = True
            self._inbound.put_nowait(Hangup(reason))
            if self._output is not None:
                threading.Thread(target=self._output.close, name="parley-hangup").start()

    def set_muted(self, muted: bool) -> None:
        """A muted microphone sends silence: the session's clock and VAD go on."""
        self.muted = muted

    # --- the audio thread -----------------------------------------------------------------

    def _on_mic_block(self, samples: Samples) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(self._take_mic, samples)

    def _on_speaker_block(self, out: Samples) -> None:
        self._speaker.fill(out)
        self._played.append(out.copy())

    # --- on the loop ----------------------------------------------------------------------

    def _take_mic(self, samples: Samples) -> None:
        if self.hung_up:
            return
        while self._played:
            block = self._played.popleft()
            if self.keep_audio:
                self.heard_speaker.append(block)
            played = AudioFrame(block.astype("<i2").tobytes(), self.output_sample_rate)
            self.speaker_level = rms_dbfs(played)
            if self.echo is not None:
                self.echo.reference(played)
            if self.gate is not None:
                self.gate.speaker(played.duration, self.speaker_level)
        if self.muted:
            samples = np.zeros_like(samples)
        frame = AudioFrame(samples.astype("<i2").tobytes(), self.input_rate)
        if self.echo is not None:
            frame = self.echo.process(frame)
            if frame.samples == 0:
                return
        self.mic_level = rms_dbfs(frame)
        if self.keep_audio:  # the record keeps what the gate takes out: echo residue, or quiet
            self.heard_mic.append(frame)
        if self.gate is not None:
            frame = self.gate.process(frame, self.mic_level)
        self._inbound.put_nowait(frame)

    async def receive(self) -> InboundItem | None:
        return await self._inbound.get()

    def send_audio(self, frame: OutboundAudio) -> None:
        self._speaker.write(frame.audio.as_array())

    def clear_audio(self) -> None:
        self._speaker.clear()

    def send_event(self, event: SessionEvent) -> None:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("a desktop listener failed on %s", type(event).__name__)

    async def aclose(self) -> None:
        self._speaker.mute()
        streams, self._streams = self._streams, []
        for stream in streams:
            await asyncio.to_thread(stream.close)
