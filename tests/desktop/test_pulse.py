"""The desktop call on real devices: a PulseAudio server of the tests' own (tests/desktop/
pulse.py), real speech played into its virtual microphone, what parley plays recorded from
the speaker's monitor. Fake providers (energy VAD, scripted STT/LLM/TTS) keep it fast: the
devices, the threads and the timing are what is under test."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from parley.audio.resample import resample
from parley.desktop.app import DesktopApp
from parley.desktop.devices import PortAudioDevices
from parley.settings import Settings
from parley.testing.fakes import EnergyVAD, FakeLLM, FakeSTT, FakeTTS, Fault, FaultKind
from tests.conftest import Measure
from tests.desktop import pulse

DATA = Path(__file__).parent.parent / "data"
ANSWER = "well that is a long story to tell you"  # 9 words, 2.25 s

pytestmark = pytest.mark.skipif(bool(pulse.missing()), reason=pulse.missing() or "")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pulse.PulseServer]:
    started = pulse.start(tmp_path_factory.mktemp("pulse"))
    try:
        with pulse.use_server(started):
            yield started
    finally:
        pulse.stop(started)


def fakes(llm: FakeLLM | None = None, tts: FakeTTS | None = None) -> Callable[[str], Any]:
    made = {
        "vad": EnergyVAD(),
        "stt": FakeSTT(unscripted_text="tell me a story"),
        "llm": llm or FakeLLM(lambda messages: ANSWER),
        "tts": tts or FakeTTS(sample_rate=24000),
    }
    return made.__getitem__


async def until(predicate: Callable[[], bool], limit: float = 15.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "waited in vain"
        await asyncio.sleep(0.01)


def test_devices_are_listed(server: pulse.PulseServer) -> None:
    devices = PortAudioDevices().list()
    assert any(d.default_input for d in devices) and any(d.default_output for d in devices)


def test_a_question_gets_an_answer_speech_stops_it_and_hangup_silences(
    server: pulse.PulseServer, measured: Measure
) -> None:
    """One call: ask, hear the answer; ask again and talk over the answer: it stops; ask
    again and hang up over the answer: the speaker goes silent and the call ends."""
    app = DesktopApp(Settings(), PortAudioDevices(), build=fakes(), live=False)
    recording = pulse.record_speaker(server)
    marks: dict[str, float] = {}

    def answers() -> list[Any]:
        return [line for line in app.view.lines if line.who == "agent"]

    async def main() -> int:
        run = asyncio.create_task(app.run())
        await until(lambda: app.session is not None and app.view.state == "listening")
        # 1. A question gets a whole answer.
        server.play(DATA / "question_time.wav")
        await until(lambda: app.view.state == "speaking")
        marks["first answer"] = time.monotonic()
        await until(lambda: app.view.state == "listening" and bool(answers()[0].text))
        marks["first answer done"] = time.monotonic()
        # 2. Speech over the next answer stops it.
        server.play(DATA / "question_time.wav")
        await until(lambda: app.view.state == "speaking" and len(answers()) == 2)
        await asyncio.sleep(0.8)
        server.play(DATA / "interrupt_wait.wav")
        await until(lambda: app.view.state == "paused", 5)
        marks["paused"] = time.monotonic()
        await until(lambda: answers()[1].status == "interrupted", 10)
        await until(lambda: app.view.state == "listening", 10)
        # 3. Hang up over the third answer.
        await until(lambda: len(answers()) == 3 and app.view.state == "listening", 10)
        server.play(DATA / "question_time.wav")
        count = len(answers())
        await until(lambda: app.view.state == "speaking" and len(answers()) > count)
        await asyncio.sleep(0.5)
        marks["key"] = time.monotonic()
        app.press("q")
        app.press("q")
        status = await run
        marks["closed"] = time.monotonic()
        return status

    try:
        assert asyncio.run(main()) == 0
        time.sleep(0.3)  # what was still in flight reaches the recorder
    finally:
        recording.stop()
    session = app.sessions[0]
    assert session.end_reason == "caller hung up"
    heard_first = recording.audible_between(marks["first answer"], marks["first answer done"])
    assert heard_first > 0.8 * len(ANSWER.split()) * 0.25
    # Paused: what the device chain still held plays out (PortAudio's and the ALSA pulse
    # plugin's buffers, beyond parley's), then silence until the decision.
    pause_to_silence = recording.last_sound_at(before=marks["paused"] + 0.4) - marks["paused"]
    assert recording.audible_between(marks["paused"] + 0.15, marks["paused"] + 0.4) == 0.0
    after_key = recording.audible_after(marks["key"])
    last_sound = recording.last_sound_at() - marks["key"]
    closed = marks["closed"] - marks["key"]
    measured("desktop hangup: sound recorded after the key (PulseAudio)", after_key * 1000, "ms")
    measured("desktop hangup: key to last sound arriving (PulseAudio)", last_sound * 1000, "ms")
    measured("desktop hangup: key to session closed (PulseAudio)", closed * 1000, "ms")
    measured("desktop barge-in: pause seen to last sound arriving", pause_to_silence * 1000, "ms")
    # Two upper bounds of the sound played after the key, each loose in its own way under
    # load (parec delivers in bursts: audio played before the key can arrive after it): the
    # audio that arrived after the key, up to its last loud sample; and when the last loud
    # piece arrived. The tighter one must be within a block and the monitor's 10 ms.
    assert min(after_key, last_sound) <= 0.03
    assert closed < 2.0


def test_hangup_silences_at_once_while_the_providers_hang(
    server: pulse.PulseServer, measured: Measure
) -> None:
    """The LLM and the TTS hang mid-answer and never close: the speaker still goes silent
    within a block of the key, and the call ends within the 2 s close bound."""
    hang = float("inf")
    reply = "This is the first sentence of a long answer. And here is more that never comes."
    llm = FakeLLM([reply], faults=[Fault(FaultKind.HANG, after=9)], close_delay=hang)
    tts = FakeTTS(sample_rate=24000, faults=[Fault(FaultKind.HANG, after=15)], close_delay=hang)
    app = DesktopApp(Settings(), PortAudioDevices(), build=fakes(llm, tts), live=False)
    recording = pulse.record_speaker(server)
    marks: dict[str, float] = {}

    async def main() -> None:
        run = asyncio.create_task(app.run())
        await until(lambda: app.session is not None and app.view.state == "listening")
        server.play(DATA / "question_time.wav")
        await until(lambda: app.view.state == "speaking")
        await asyncio.sleep(0.4)
        marks["key"] = time.monotonic()
        app.press("esc")
        app.press("q")
        await run
        marks["closed"] = time.monotonic()

    try:
        asyncio.run(main())
        time.sleep(0.2)
    finally:
        recording.stop()
    before = recording.audible_between(marks["key"] - 0.3, marks["key"])
    after_key = recording.audible_after(marks["key"])
    last_sound = recording.last_sound_at() - marks["key"]
    closed = marks["closed"] - marks["key"]
    measured("desktop hangup, providers hanging: sound after the key", after_key * 1000, "ms")
    measured("desktop hangup, providers hanging: key to last sound", last_sound * 1000, "ms")
    measured("desktop hangup, providers hanging: key to call ended", closed * 1000, "ms")
    assert before > 0.2  # it was speaking
    assert min(after_key, last_sound) <= 0.03  # as above
    assert 1.0 < closed < 2.5  # the hung providers needed the bound, and got no more


@pytest.mark.skipif(
    not os.environ.get("PARLEY_DESKTOP_LOOPBACK"),
    reason="load-sensitive: set PARLEY_DESKTOP_LOOPBACK=1 (docs/desktop.md, Echo)",
)
def test_the_echo_through_a_real_device_path_does_not_interrupt(
    server: pulse.PulseServer, measured: Measure
) -> None:
    """The speaker's monitor looped back into the microphone's room (module-loopback, at
    full level), the agent speaking a real voice: three answers, none interrupted by its own
    echo. (Without the canceller and the gate all three were.) Not in the default run: on a
    loaded machine the output underruns, the echo's delay jumps, and the canceller lets
    bursts through while it re-learns it (docs/desktop.md gives the pass rates measured)."""
    from tests.desktop.harness import VoiceTTS, speech

    module = server.run(
        "pactl", "load-module", "module-loopback", "source=speaker.monitor", "sink=room",
        "latency_msec=30",
    ).strip()  # fmt: skip
    tts = VoiceTTS(resample(speech("question_story.wav"), 24000))
    app = DesktopApp(Settings(), PortAudioDevices(), build=fakes(tts=tts), live=False)

    def answers() -> list[Any]:
        return [line for line in app.view.lines if line.who == "agent"]

    async def main() -> None:
        run = asyncio.create_task(app.run())
        await until(lambda: app.session is not None and app.view.state == "listening")
        for n in range(1, 4):
            # Short real speech: the scripted STT hears any utterance as a question.
            server.play(DATA / "backchannel_uh_huh.wav")
            await until(lambda: len(answers()) >= n)  # noqa: B023
            await until(lambda: app.view.state == "listening", 15)
            await asyncio.sleep(0.3)
        app.press("q")
        await run

    try:
        asyncio.run(main())
    finally:
        server.run("pactl", "unload-module", module)
    interrupted = sum(a.status != "" for a in answers())
    measured("desktop echo over a PulseAudio loopback: answers interrupted", interrupted, "of 3")
    assert [a.status for a in answers()] == ["", "", ""]
