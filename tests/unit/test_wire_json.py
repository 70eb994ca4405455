"""wire_json.parse: whatever the text, a value or a WireJSONError, and nothing else."""

from __future__ import annotations

import json
import time

import pytest

from parley.transports.wire_json import WireJSONError, parse


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "",
        "[1, NaN]",
        '{"played_seconds": Infinity}',
        "-Infinity",
        "[" * 1000 + "]" * 1000,
        '{"a": ' * 300 + "1" + "}" * 300,
        "9" * 5000,  # past Python's 4300-digit limit for int()
        '"\\ud800"',  # a lone surrogate: no reply or log could encode it
        b"\xff\xfe{}",
        '{"a": 1} trailing',
    ],
)
def test_refused_with_wire_json_error(text: str | bytes) -> None:
    with pytest.raises(WireJSONError):
        parse(text)


def test_json_python_accepts_is_parsed_alike() -> None:
    text = '{"a": [1, 2.5, -3e-5, true, null, "\\u00e9\\ud83d\\ude00"], "b": {"c": "d"}}'
    assert parse(text) == json.loads(text)
    assert parse("[" * 150 + "]" * 150) == json.loads("[" * 150 + "]" * 150)
    assert parse("1e400") == float("inf")  # an overflow is a float: the wire models refuse it


def test_a_thousand_levels_cost_no_more_than_a_fraction_of_a_frame() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    started = time.perf_counter()
    with pytest.raises(WireJSONError, match="nested too deeply"):
        parse(deep)
    assert time.perf_counter() - started < 0.02


def test_a_message_of_many_small_values_is_refused_before_it_is_parsed() -> None:
    """An 8 MB array of zeros took 250 ms to parse on the event loop (invariant 11)."""
    many = "[" + ",".join(["0"] * 2_000_000) + "]"
    started = time.perf_counter()
    with pytest.raises(WireJSONError, match="too many values"):
        parse(many)
    assert time.perf_counter() - started < 0.1  # generous: one pass of str.count
    audio = '{"type": "input_audio_buffer.append", "audio": "' + "QUFB" * 2_000_000 + '"}'
    assert len(parse(audio)["audio"]) == 8_000_000  # big strings are cheap: kept
    assert len(parse("[" + ",".join(["1"] * 20_000) + "]")) == 20_000
