"""The desktop call's small parts: key names, rate choice, the speaker buffer, the echo gate."""

from __future__ import annotations

import numpy as np
import pytest

from parley.audio.frames import AudioFrame
from parley.desktop.devices import DeviceError, pick_rate
from parley.desktop.echo import EchoGate
from parley.desktop.keys import CTRL_C, ESC, key_names
from parley.transports.desktop.playback import SpeakerBuffer


def test_key_names() -> None:
    assert key_names(b"\x1b") == [ESC]
    assert key_names(b"\x1b[A") == []  # an arrow key
    assert key_names(b"Qm") == ["q", "m"]
    assert key_names(b"\x03") == [CTRL_C]


def test_pick_rate_prefers_the_devices_own_rate_then_the_fallbacks() -> None:
    assert pick_rate(44100.0, lambda r: True) == 44100
    assert pick_rate(96000.0, lambda r: r in (16000, 44100)) == 44100  # 96 kHz: no frame for it
    assert pick_rate(48000.0, lambda r: r == 16000) == 16000
    with pytest.raises(DeviceError):
        pick_rate(48000.0, lambda r: False)


def test_the_speaker_buffer_plays_in_order_pads_with_silence_and_clears_at_once() -> None:
    buffer = SpeakerBuffer()
    buffer.write(np.arange(1, 6, dtype=np.int16))
    buffer.write(np.arange(6, 9, dtype=np.int16))
    out = np.full(4, 99, dtype=np.int16)
    buffer.fill(out)
    assert out.tolist() == [1, 2, 3, 4]
    buffer.fill(out)
    assert out.tolist() == [5, 6, 7, 8]
    buffer.fill(out)
    assert out.tolist() == [0, 0, 0, 0]
    buffer.write(np.ones(10, dtype=np.int16))
    buffer.clear()
    buffer.fill(out)
    assert not out.any() and buffer.buffered() == 0
    buffer.mute()
    buffer.write(np.ones(10, dtype=np.int16))  # after a hangup nothing gets in
    buffer.fill(out)
    assert not out.any()


def tone(dbfs: float) -> AudioFrame:
    t = np.arange(320) / 16000
    return AudioFrame.from_float(
        10 ** (dbfs / 20) * np.sqrt(2) * np.sin(2 * np.pi * 200 * t), 16000
    )


def test_the_gate_silences_what_could_be_echo_and_holds_open_for_speech() -> None:
    gate = EchoGate(12.0, tail_s=0.1, hold_s=0.06, confirm=1)
    quiet = tone(-40.0)
    assert gate.process(quiet, -40.0) is quiet  # the speaker is silent: all passes
    gate.speaker(0.02, -16.0)
    assert not gate.process(quiet, -40.0).as_array().any()  # under -28: could be echo
    loud = tone(-20.0)
    assert gate.process(loud, -20.0) is loud
    assert gate.process(quiet, -40.0) is quiet  # held open: speech between syllables
    assert gate.process(quiet, -40.0) is quiet
    assert gate.process(quiet, -40.0) is quiet
    assert not gate.process(quiet, -40.0).as_array().any()  # the hold is over
    for _ in range(5):
        gate.speaker(0.02, float("-inf"))  # the speaker fell silent 100 ms ago
    assert gate.process(quiet, -40.0) is quiet
    assert gate.gated == 2


def test_the_gate_opens_only_on_the_third_block_in_a_row_over_the_echo() -> None:
    """One loud block is an echo glitch (measured on a real device path), not speech."""
    gate = EchoGate(12.0)
    gate.speaker(0.02, -16.0)
    quiet, loud = tone(-40.0), tone(-20.0)
    assert not gate.process(loud, -20.0).as_array().any()  # a lone block: silenced
    assert not gate.process(quiet, -40.0).as_array().any()  # and no hold after it
    assert not gate.process(loud, -20.0).as_array().any()
    assert not gate.process(loud, -20.0).as_array().any()
    assert gate.process(loud, -20.0) is loud  # the third in a row: speech
    assert gate.process(quiet, -40.0) is quiet  # held open


def test_the_gate_learns_how_loud_the_echo_is() -> None:
    """Echo 40 dB under the speaker for a while: speech 20 dB under it then passes, which
    the untrained gate (12 dB) would have silenced; a louder echo raises the bar again."""
    gate = EchoGate(12.0, window=50)
    speech_20_under, echo_40_under = tone(-36.0), tone(-56.0)
    gate.speaker(0.02, -16.0)
    assert gate.threshold() == -28.0
    for _ in range(50):
        gate.process(echo_40_under, -56.0)
    assert abs(gate.echo_db() - -40.0) < 1e-6
    assert abs(gate.threshold() - -50.0) < 1e-6  # 40 dB under, 6 dB of headroom
    outs = [gate.process(speech_20_under, -36.0) for _ in range(3)]
    assert outs[2] is speech_20_under
    for _ in range(50):
        gate.process(tone(-22.0), -22.0)  # a loud echo now: 6 dB under the speaker
    assert abs(gate.threshold() - -16.0) < 1e-6  # at most the speaker's own level
