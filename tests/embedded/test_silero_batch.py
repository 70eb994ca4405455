"""Batched Silero (one ONNX run for the windows of every stream in a loop iteration) decides
exactly as the inline path does: same probabilities per window, same decisions."""

from __future__ import annotations

import asyncio

import numpy as np

from parley.audio.frames import AudioFrame
from parley.audio.resample import resample
from parley.conversation.inputs import ConversationInput, SpeechEnded, SpeechStarted
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import VAD, VADEvent, VADOutput, VADStream
from parley.providers.local.silero import SileroVAD, SileroVADStream
from parley.session.listening import InputPath, STTRunner
from parley.session.supervisor import Supervisor
from parley.testing.fakes.stt import FakeSTT

from .conftest import Speak

# (sample rate, frame ms, lead silence s): Twilio-like 20 ms frames, frames holding several
# windows, frames shorter than a window, and 8 kHz streams batched on their own.
STREAMS = [(16000, 20, 0.3), (16000, 100, 0.5), (16000, 10, 0.1), (8000, 20, 0.7), (8000, 60, 0.2)]


def _clips(speak: Speak) -> list[list[AudioFrame]]:
    speech = speak("Could you tell me what the weather will be like tomorrow?")
    clips = []
    for rate, frame_ms, lead in STREAMS:
        audio = AudioFrame(
            AudioFrame.silence(lead, 16000).pcm + speech.pcm + AudioFrame.silence(1.2, 16000).pcm,
            16000,
        )
        audio = audio if rate == 16000 else resample(audio, rate)
        step = rate * frame_ms // 1000 * 2
        clips.append(
            [AudioFrame(audio.pcm[i : i + step], rate) for i in range(0, len(audio.pcm), step)]
        )
    return clips


def test_batched_windows_give_the_inline_probabilities_and_decisions(
    silero: SileroVAD, speak: Speak
) -> None:
    clips = _clips(speak)
    policy = TurnTakingPolicy()

    inline_probabilities: list[list[float]] = []
    inline_events: list[list[VADEvent]] = []
    for (rate, _, _), frames in zip(STREAMS, clips, strict=True):
        stream = silero.stream(policy, rate)
        outputs = [stream.process(frame) for frame in frames]
        inline_probabilities.append([o.probability for o in outputs])
        inline_events.append([e for o in outputs for e in o.events])

    wide = silero.batcher(16000)  # shared by the model's other tests: count from here
    windows_before, runs_before = wide.windows, wide.runs

    async def batched() -> tuple[list[list[float]], list[list[VADEvent]]]:
        streams = [silero.stream(policy, rate) for rate, _, _ in STREAMS]
        events: list[list[VADEvent]] = [[] for _ in STREAMS]
        for stream, sink in zip(streams, events, strict=True):

            def deliver(output: VADOutput | Exception, sink: list[VADEvent] = sink) -> None:
                assert isinstance(output, VADOutput)
                sink.extend(output.events)

            stream.listen(deliver)
        probabilities: list[list[float]] = [[] for _ in STREAMS]
        for index in range(max(len(c) for c in clips)):
            for stream, frames in zip(streams, clips, strict=True):
                if index < len(frames):
                    assert stream.process(frames[index]).events == ()  # decided in the batch
            await asyncio.sleep(0)  # the batch runs on the next loop iteration
            for stream, frames, seen in zip(streams, clips, probabilities, strict=True):
                if index < len(frames):
                    assert isinstance(stream, SileroVADStream) and not stream.windows
                    seen.append(stream.probability)
        return probabilities, events

    probabilities, events = asyncio.run(batched())
    for inline, batch in zip(inline_probabilities, probabilities, strict=True):
        assert np.allclose(inline, batch, atol=1e-5, rtol=0)
    assert events == inline_events
    assert all(any(e.kind == "start" for e in sink) for sink in events)
    windows, runs = wide.windows - windows_before, wide.runs - runs_before
    assert windows > 1.2 * runs  # windows of several streams shared runs


def test_a_closed_stream_leaves_the_batch(silero: SileroVAD) -> None:
    async def run() -> tuple[int, int]:
        streams = [silero.stream(TurnTakingPolicy(), 16000) for _ in range(3)]
        for stream in streams:
            stream.listen(lambda output: None)
            stream.process(AudioFrame.silence(0.064, 16000))  # two windows each
        streams[1].close()
        batcher = silero.batcher(16000)
        runs, windows = batcher.runs, batcher.windows
        await asyncio.sleep(0)
        return batcher.runs - runs, batcher.windows - windows

    assert asyncio.run(run()) == (2, 4)


def test_the_input_path_gets_batched_decisions_as_inline_ones(
    silero: SileroVAD, speak: Speak
) -> None:
    speech = speak("Book me a table for two, please.")
    audio = resample(
        AudioFrame(AudioFrame.silence(0.4, 16000).pcm + speech.pcm + bytes(32000), 16000), 8000
    )
    frames = [AudioFrame(audio.pcm[i : i + 320], 8000) for i in range(0, len(audio.pcm), 320)]

    async def run(vad: VAD) -> list[ConversationInput]:
        heard: list[ConversationInput] = []
        policy = TurnTakingPolicy()
        stt = STTRunner(FakeSTT(), lambda: policy, Supervisor("test"), heard.append)
        listening = InputPath(vad, stt, policy, 16000, heard.append, lambda event: None)
        for index, frame in enumerate(frames):
            listening.accept(frame, index * 0.02)
            await asyncio.sleep(0)
        return heard

    inline = asyncio.run(run(_Inline(silero)))
    heard = asyncio.run(run(silero))
    assert [type(i) for i in inline][:1] == [SpeechStarted] and SpeechEnded in map(type, inline)
    assert heard == inline


class _Inline(VAD):
    """Silero deciding inline: its streams never hear of a listener."""

    def __init__(self, silero: SileroVAD) -> None:
        self._silero = silero

    def stream(self, policy: TurnTakingPolicy, sample_rate: int) -> VADStream:
        return _InlineStream(self._silero.stream(policy, sample_rate))


class _InlineStream(VADStream):
    def __init__(self, stream: VADStream) -> None:
        self.sample_rate = stream.sample_rate
        self._stream = stream

    def process(self, frame: AudioFrame) -> VADOutput:
        return self._stream.process(frame)


def test_a_loop_that_ended_before_its_batch_ran_does_not_stall_the_next(
    silero: SileroVAD,
) -> None:
    async def submit(wait: bool) -> float:
        stream = silero.stream(TurnTakingPolicy(), 16000)
        assert isinstance(stream, SileroVADStream)
        stream.listen(lambda output: None)
        stream.process(AudioFrame.silence(0.032, 16000))
        if wait:
            await asyncio.sleep(0)
            assert not stream.windows
        return len(stream.windows)

    ended = asyncio.new_event_loop()
    task = ended.create_task(submit(wait=False))
    ended.call_soon(ended.stop)  # stops after the task's step, before the batch's turn
    ended.run_forever()
    ended.close()
    assert task.result() == 1
    asyncio.run(submit(wait=True))
