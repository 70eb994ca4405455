"""Audio devices behind a small interface: list them, open an input and an output stream.

A stream calls back from the audio system's own thread, once per block: the input callback
gets the block just captured, the output callback fills the block about to play. Callbacks
must not block (PortAudio's rule): they copy, hand over and return. `PortAudioDevices` runs
on the real devices through `sounddevice`; `testing/fake_devices.py` runs on the event loop's
clock for tests. Audio here is PCM16 mono numpy arrays at the stream's rate.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from parley.audio.frames import SUPPORTED_RATES

Samples = npt.NDArray[np.int16]
InputCallback = Callable[[Samples], None]
OutputCallback = Callable[[Samples], None]  # fills the int16 block it is given, in place

# Rates to try, best first, when a device's default rate is not one parley's frames carry.
_FALLBACK_RATES = (48000, 44100, 32000, 24000, 22050, 16000, 11025, 8000)


class DeviceError(RuntimeError):
    """A device that is missing, busy or cannot do what was asked."""


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    index: int
    name: str
    inputs: int  # channels
    outputs: int
    default_rate: int
    default_input: bool = False
    default_output: bool = False


class Stream(Protocol):
    rate: int
    block: int  # samples per callback

    def start(self) -> None: ...

    def close(self) -> None: ...


class AudioDevices(ABC):
    @abstractmethod
    def list(self) -> list[DeviceInfo]:
        """Every device, input and output."""

    @abstractmethod
    def open_input(
        self, device: int | str | None, rate: int | None, block_s: float, callback: InputCallback
    ) -> Stream:
        """An input stream on `device` (None: the default) at `rate` (None: the device's)."""

    @abstractmethod
    def open_output(
        self, device: int | str | None, rate: int | None, block_s: float, callback: OutputCallback
    ) -> Stream:
        """An output stream; `callback` fills each block (silence when it has nothing)."""


def pick_rate(default_rate: float, supported: Callable[[int], bool]) -> int:
    """The device's own rate when parley's frames can carry it, else the first supported
    fallback the device accepts (PortAudio and PulseAudio convert the rest)."""
    own = round(default_rate)
    if own in SUPPORTED_RATES and supported(own):
        return own
    for rate in _FALLBACK_RATES:
        if supported(rate):
            return rate
    raise DeviceError(f"the device takes none of the rates parley uses ({own} Hz is its own)")


class _SoundDeviceStream:
    def __init__(self, stream: Any, rate: int, block: int) -> None:
        self._stream = stream
        self.rate = rate
        self.block = block
        self._closed = False
        self._lock = threading.Lock()

    def start(self) -> None:
        self._stream.start()

    def close(self) -> None:
        """Stop at once (abort: what the device still holds is dropped, not played); from any
        thread, and a second call does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._stream.abort()
            finally:
                self._stream.close()


class PortAudioDevices(AudioDevices):
    """The computer's devices through PortAudio (Debian's libportaudio2, `sounddevice`)."""

    def __init__(self) -> None:
        try:
            import sounddevice
        except OSError as exc:  # the library itself is missing
            raise DeviceError(f"PortAudio is not installed ({exc}); run make setup") from exc
        self._sd = sounddevice

    def list(self) -> list[DeviceInfo]:
        sd = self._sd
        default_in, default_out = sd.default.device
        return [
            DeviceInfo(
                index=i,
                name=str(d["name"]),
                inputs=int(d["max_input_channels"]),
                outputs=int(d["max_output_channels"]),
                default_rate=round(d["default_samplerate"]),
                default_input=i == default_in,
                default_output=i == default_out,
            )
            for i, d in enumerate(sd.query_devices())
        ]

    def _rate(
        self, device: int | str | None, rate: int | None, kind: Literal["input", "output"]
    ) -> int:
        sd = self._sd
        try:
            info = sd.query_devices(device, kind)
        except (ValueError, sd.PortAudioError) as exc:
            which = "default" if device is None else repr(device)
            raise DeviceError(f"no {kind} device ({which}): {exc}") from exc
        check = sd.check_input_settings if kind == "input" else sd.check_output_settings

        def supported(r: int) -> bool:
            try:
                check(device=device, channels=1, dtype="int16", samplerate=r)
            except (ValueError, sd.PortAudioError):
                return False
            return True

        if rate is not None:
            if rate not in SUPPORTED_RATES or not supported(rate):
                raise DeviceError(f"the {kind} device does not take {rate} Hz")
            return rate
        return pick_rate(info["default_samplerate"], supported)

    def open_input(
        self, device: int | str | None, rate: int | None, block_s: float, callback: InputCallback
    ) -> Stream:
        def on_block(indata: Any, frames: int, time: Any, status: Any) -> None:
            callback(indata[:, 0].copy())

        return self._open("input", device, rate, block_s, on_block)

    def open_output(
        self, device: int | str | None, rate: int | None, block_s: float, callback: OutputCallback
    ) -> Stream:
        def on_block(outdata: Any, frames: int, time: Any, status: Any) -> None:
            callback(outdata[:, 0])

        return self._open("output", device, rate, block_s, on_block)

    def _open(
        self,
        kind: Literal["input", "output"],
        device: int | str | None,
        rate: int | None,
        block_s: float,
        on_block: Callable[[Any, int, Any, Any], None],
    ) -> Stream:
        """A mono int16 stream of `kind` whose `on_block` PortAudio calls once per block."""
        sd = self._sd
        rate = self._rate(device, rate, kind)
        block = round(rate * block_s)
        open_stream = sd.InputStream if kind == "input" else sd.OutputStream
        try:
            stream = open_stream(
                device=device, channels=1, dtype="int16", samplerate=rate, blocksize=block,
                latency="low", callback=on_block,
            )  # fmt: skip
        except sd.PortAudioError as exc:
            raise DeviceError(f"cannot open the {kind} device: {exc}") from exc
        return _SoundDeviceStream(stream, rate, block)
