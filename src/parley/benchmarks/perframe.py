"""Per-frame CPU costs of a Twilio call in one process, measured in microbenchmarks.

`python -m parley.benchmarks.perframe [--streams 100,300] [--seconds 3]` feeds N simulated
calls' worth of 20 ms frames through the pieces every frame crosses (the inbound parse and
translation, the input path's resampling and Silero VAD, the outbound encoding) and prints
CPU microseconds per frame (or per VAD window) for the way each was done before and now:
Silero inline (one ONNX run per window) vs batched (`WindowBatcher`: one run per loop
iteration), and Twilio's outbound messages from pydantic models vs templates.

CPU time (`time.process_time_ns`) rather than wall time, so other work on a shared machine
inflates the figures less; run the variants back to back and read their ratio. The full
capacity figure needs a quiet machine: `parley bench` measures it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
from collections.abc import Callable

import numpy as np

from parley.audio.codecs import pcm16_to_ulaw
from parley.audio.frames import AudioFrame
from parley.audio.resample import StreamResampler
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import VADOutput, VADStream
from parley.providers.local.silero import SileroVAD
from parley.transports import wire_json
from parley.transports.twilio.messages import (
    INBOUND,
    MarkName,
    OutboundEncoder,
    OutboundMark,
    OutboundMedia,
    OutboundPayload,
    to_wire,
)

RATE = 8000  # Twilio's
PIPELINE_RATE = 16000  # the input path's (the STT's)
FRAME = 160  # samples in 20 ms at 8 kHz
SID = "MZ" + "0123456789abcdef" * 2


def _calls(streams: int, seconds: float) -> list[list[AudioFrame]]:
    """Per call, 20 ms frames of speech-like noise bursts and silence (the VAD's work does
    not depend on the content; the decisions only need some of each)."""
    rng = np.random.default_rng(3)
    frames = round(seconds * 50)
    calls = []
    for _ in range(streams):
        level = np.repeat(rng.choice([0.0, 0.3], size=frames // 25 + 1), 25 * FRAME)
        samples = rng.normal(0, 1, frames * FRAME) * level[: frames * FRAME]
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
        calls.append([AudioFrame(pcm[i * 320 : (i + 1) * 320], RATE) for i in range(frames)])
    return calls


def vad(silero: SileroVAD, calls: list[list[AudioFrame]], *, batched: bool) -> float:
    """CPU µs per VAD window: every call's frame of one tick, then one loop iteration. The
    frames are resampled to the pipeline rate beforehand (`resampling` measures that)."""
    audio = []
    for frames in calls:
        resampler = StreamResampler(RATE, PIPELINE_RATE)
        audio.append([resampler.process(frame) for frame in frames])
    streams: list[VADStream] = [silero.stream(TurnTakingPolicy(), PIPELINE_RATE) for _ in calls]

    def tick(index: int) -> None:
        for stream, frames in zip(streams, audio, strict=True):
            stream.process(frames[index])

    async def run() -> int:
        for stream in streams:
            stream.listen(_ignore)
        start = time.process_time_ns()
        for index in range(len(audio[0])):
            tick(index)
            await asyncio.sleep(0)  # the batch runs here
        return time.process_time_ns() - start

    if batched:
        elapsed = asyncio.run(run())
    else:  # no running loop: each window runs inline, as before batching
        start = time.process_time_ns()
        for index in range(len(audio[0])):
            tick(index)
        elapsed = time.process_time_ns() - start
    windows = sum(len(frame.pcm) for frames in audio for frame in frames) // 2 // 512
    return elapsed / windows / 1000


def resampling(calls: list[list[AudioFrame]]) -> float:
    """CPU µs per frame of the input path's 8 -> 16 kHz resampling (libsamplerate)."""
    resamplers = [StreamResampler(RATE, PIPELINE_RATE) for _ in calls]
    start = time.process_time_ns()
    for tick in range(len(calls[0])):
        for resampler, frames in zip(resamplers, calls, strict=True):
            resampler.process(frames[tick])
    return (time.process_time_ns() - start) / len(calls) / len(calls[0]) / 1000


def _ignore(output: VADOutput | Exception) -> None:
    pass


def _per_frame(work: Callable[[], object], frames: int) -> float:
    start = time.process_time_ns()
    for _ in range(frames):
        work()
    return (time.process_time_ns() - start) / frames / 1000


def outbound(frames: int) -> tuple[float, float]:
    """CPU µs per frame for the `media` + `mark` texts: models, then templates."""
    payload = base64.b64encode(pcm16_to_ulaw(bytes(320))).decode("ascii")
    encoder = OutboundEncoder(SID)

    def models() -> object:
        media = OutboundMedia(stream_sid=SID, media=OutboundPayload(payload=payload))
        mark = OutboundMark(stream_sid=SID, mark=MarkName(name="r_1@0.020#7"))
        return to_wire(media), to_wire(mark)

    def templates() -> object:
        return encoder.media(payload), encoder.mark("r_1@0.020#7")

    return _per_frame(models, frames), _per_frame(templates, frames)


def inbound(frames: int) -> tuple[float, float]:
    """CPU µs per frame: JSON parse alone, then parse and validation (what runs now)."""
    payload = base64.b64encode(pcm16_to_ulaw(bytes(320))).decode("ascii")
    media = {"track": "inbound", "chunk": "7", "timestamp": "140", "payload": payload}
    message = {"event": "media", "sequenceNumber": "9", "media": media, "streamSid": SID}
    text = json.dumps(message, separators=(",", ":"))
    return (
        _per_frame(lambda: wire_json.parse(text), frames),
        _per_frame(lambda: INBOUND.validate_python(wire_json.parse(text)), frames),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="100,300", help="calls, comma-separated")
    parser.add_argument("--seconds", type=float, default=3.0, help="audio per call")
    args = parser.parse_args()
    silero = SileroVAD()
    for streams in (int(n) for n in args.streams.split(",")):
        calls = _calls(streams, args.seconds)
        vad(silero, calls[:2], batched=False)  # warm up
        inline = vad(silero, calls, batched=False)
        batched = vad(silero, calls, batched=True)
        print(f"silero, {streams} calls: inline {inline:.1f} µs/window, "
              f"batched {batched:.1f} µs/window ({inline / batched:.2f}x)")  # fmt: skip
        print(f"resampling 8 -> 16 kHz, {streams} calls: {resampling(calls):.1f} µs/frame")
    models, templates = outbound(20_000)
    print(f"twilio outbound media+mark: models {models:.2f} µs/frame, templates "
          f"{templates:.2f} µs/frame ({models / templates:.1f}x)")  # fmt: skip
    parse, validated = inbound(20_000)
    print(f"twilio inbound media: JSON parse {parse:.2f} µs/frame, parse and validation "
          f"{validated:.2f} µs/frame")  # fmt: skip


if __name__ == "__main__":
    main()
