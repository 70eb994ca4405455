"""A desktop call on fake devices and fake providers, on the virtual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import looptime
import numpy as np

from parley.audio.frames import AudioFrame
from parley.audio.resample import resample
from parley.audio.wavfile import read_wav
from parley.desktop.echo import EchoCanceller
from parley.events import SessionEvent
from parley.session import Providers, Session
from parley.testing.fake_devices import FakeDevices
from parley.testing.fakes import EnergyVAD, FakeLLM, FakeSTT, FakeTTS
from parley.testing.fakes.tts import _FakeTTSCall, _FakeTTSStream
from parley.transports.desktop import DesktopTransport

T = TypeVar("T")
DATA = Path(__file__).parent.parent / "data"
ANSWER = "well that is a long story and I will tell it to you slowly now"


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    with asyncio.Runner(loop_factory=lambda: looptime.new_event_loop(start=0)) as runner:
        return runner.run(main())


def speech(name: str = "question_time.wav") -> AudioFrame:
    return resample(read_wav(DATA / name), 16000)


class VoiceTTS(FakeTTS):
    """The fake TTS with a real voice: its samples are a recording, looped (for echo)."""

    def __init__(self, voice: AudioFrame, **kwargs: Any) -> None:
        super().__init__(sample_rate=voice.sample_rate, **kwargs)
        self.voice = voice.as_array()

    def stream(self, output_rate: int | None = None) -> Any:
        self.streams_opened += 1
        call = _FakeTTSCall(self, self.streams_opened)
        voice = self.voice

        def take_samples(count: int) -> AudioFrame:
            at = call._next_sample % len(voice)
            picked = np.take(voice, range(at, at + count), mode="wrap")
            call._next_sample += count
            return AudioFrame(picked.astype("<i2").tobytes(), call.sample_rate)

        call.take_samples = take_samples  # type: ignore[method-assign]
        return _FakeTTSStream(call)


class DesktopCall:
    def __init__(
        self,
        *,
        rate: int = 16000,
        echo_gain: float = 0.0,
        cancel_echo: bool = True,
        gate: bool = True,
        tts: FakeTTS | None = None,
    ) -> None:
        self.devices = FakeDevices(rate, echo_gain=echo_gain)
        self.transport = DesktopTransport(
            self.devices, echo=(lambda r: EchoCanceller(r)) if cancel_echo else None, gate=gate
        )
        stt = FakeSTT(unscripted_text="tell me a story")
        llm = FakeLLM(lambda messages: ANSWER)
        self.providers = Providers(EnergyVAD(), stt, llm, tts or FakeTTS())
        self.events: list[tuple[float, SessionEvent]] = []
        self.session: Session | None = None

    def of(self, kind: type[T]) -> list[tuple[float, T]]:
        return [(t, e) for t, e in self.events if isinstance(e, kind)]

    async def run(self, script: Callable[[DesktopCall], Coroutine[Any, Any, None]]) -> None:
        loop = asyncio.get_running_loop()
        self.transport.open()
        self.session = Session(self.transport, self.providers)
        self.session.observers.append(lambda e: self.events.append((loop.time(), e)))
        async with asyncio.TaskGroup() as group:
            group.create_task(self.session.run())
            group.create_task(script(self))

    async def until(self, predicate: Callable[[], bool], limit: float = 30.0) -> float:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while not predicate():
            if loop.time() > deadline:
                raise TimeoutError("waited in vain")
            await asyncio.sleep(0.01)
        return loop.time()
