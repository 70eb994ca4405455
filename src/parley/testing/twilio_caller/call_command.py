"""`parley call`: phone your agent without a phone.

Runs the fake caller against a server's `/twilio/media` with your WAV files as the caller's
speech, then prints what happened on the line: when each utterance was said, when the agent
answered (voice-to-voice), when it was cut off (barge-in to `clear`), and how much the caller
heard. With `--record`, what the caller heard is written to a WAV file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from parley.audio.frames import AudioFrame
from parley.audio.wavfile import read_wav, write_wav
from parley.testing.twilio_caller.fake_caller import (
    RATE,
    CallerStep,
    FakeCaller,
    HangUp,
    Pause,
    Speak,
    answered,
    heard_or_finished,
)


def call_script(
    wavs: Sequence[Path], *, barge_in_after: float | None, wait: float
) -> list[CallerStep]:
    """Each WAV in turn; the next one waits for the answer, or cuts in after `barge_in_after`
    seconds of it."""
    steps: list[CallerStep] = [Pause(0.5)]
    for index, path in enumerate(wavs):
        steps.append(Speak(read_wav(path), path.name))
        last = index == len(wavs) - 1
        if barge_in_after is not None and not last:
            steps.append(heard_or_finished(barge_in_after, limit=wait))
        else:
            steps.append(answered(limit=wait))
    steps.append(HangUp())
    return steps


async def run_call(
    url: str,
    wavs: Sequence[Path],
    stream_key: SecretStr | None,
    console: Console,
    *,
    barge_in_after: float | None = None,
    wait: float = 30.0,
    record: Path | None = None,
) -> FakeCaller:
    parameters = {"from": "+15550000001", "to": "+15550000002"}
    caller = FakeCaller(url, call_script(wavs, barge_in_after=barge_in_after, wait=wait),
                        custom_parameters=parameters)  # fmt: skip
    if stream_key is not None:
        caller.sign(stream_key)
    console.print(f"calling {url} as {caller.call_sid} ...")
    try:
        await caller.run()
    except TimeoutError as exc:
        console.print(f"[yellow]{exc}; hung up[/]")
    report(caller, console)
    if record is not None:
        write_heard(caller, record)
        console.print(f"what the caller heard: {record}")
    return caller


def report(caller: FakeCaller, console: Console) -> None:
    log, t0 = caller.log, caller.started_at
    end = log.closed_at or t0
    table = Table("utterance", "speech", "clear after onset", "voice-to-voice", "agent heard",
                  title="the call, as the caller lived it (seconds from the start)")  # fmt: skip
    for index, utterance in enumerate(log.utterances):
        until = log.utterances[index + 1].started if index + 1 < len(log.utterances) else end
        speech = (
            f"{utterance.onset - t0:.2f}-{utterance.speech_end - t0:.2f}"
            if utterance.onset is not None and utterance.speech_end is not None
            else "silent"
        )
        clear = caller.barge_in_delay(utterance)
        if clear is not None and utterance.onset is not None and utterance.onset + clear > until:
            clear = None  # that clear answered a later utterance
        v2v = caller.voice_to_voice(utterance)
        heard = caller.playback.heard_seconds(until, since=utterance.ended)
        table.add_row(utterance.label, speech, _ms(clear), _ms(v2v), f"{heard:.2f} s")
    console.print(table)
    lateness = caller.frame_lateness() or [0.0]
    console.print(
        f"frames sent {len(log.frames)} (lateness p50 {_ms(float(np.median(lateness)))}, "
        f"max {_ms(max(lateness))}); agent frames {len(log.media_received)}; marks echoed "
        f"{len(log.marks_echoed)}/{len(log.marks_received)}; clears {len(log.clears_received)}; "
        f"ended by {log.ended_by}"
    )
    for problem in log.protocol_errors[:10]:
        console.print(f"[red]protocol error from the server: {problem}[/]")


def write_heard(caller: FakeCaller, path: Path) -> None:
    """What the caller heard, on the call's timeline (silence where nothing played)."""
    start = caller.started_at
    end = caller.log.closed_at or start
    track = np.zeros(max(0, round((end - start) * RATE)), dtype="<i2")
    for chunk in caller.playback.chunks:
        at = round((chunk.start - start) * RATE)
        samples = np.frombuffer(chunk.pcm, dtype="<i2")[: max(0, len(track) - at)]
        track[at : at + len(samples)] = samples
    write_wav(path, AudioFrame(track.tobytes(), RATE))


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"
