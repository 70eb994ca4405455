"""parley.logsafe: what a peer sent reaches the log escaped, capped, and (in JSON) as a field."""

from __future__ import annotations

import io
import json
import logging
import re
import time

import pytest

from parley.logsafe import LogFormat, clean, field, make_handler

FORGED = "CA1\n[12/01/26 02:30:00] ERROR    FORGED-LINE \x1b[2J\r\u2028done"
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) ")


def logged(fmt: LogFormat, emit: object) -> str:
    sink = io.StringIO()
    logger = logging.getLogger(f"parley.test.logsafe.{fmt}")
    logger.handlers, logger.propagate = [make_handler(fmt, sink)], False
    logger.setLevel(logging.INFO)
    assert callable(emit)
    emit(logger)
    return sink.getvalue()


def emit_forged(logger: logging.Logger) -> None:
    logger.info("twilio call %s: stream %s started", field("call_sid", FORGED), "MZ1")
    logger.warning("unnamed %s and %r", FORGED, FORGED)  # a value someone forgot to name
    logger.warning(f"built into the message: {FORGED}")  # the worst case
    try:
        raise ValueError(FORGED)
    except ValueError:
        logger.exception("failed for %s", field("call_sid", FORGED))


def test_clean_escapes_controls_and_caps_length() -> None:
    assert clean("a\nb\x1b[2J\x7f\u2028\u202e") == "a\\x0ab\\x1b[2J\\x7f\\u2028\\u202e"
    assert clean("é ü 漢字 'quoted'") == "é ü 漢字 'quoted'"
    assert clean("x" * 250) == "x" * 200 + "...(50 more)"
    started = time.perf_counter()
    clean("\n" * 1_000_000)
    assert time.perf_counter() - started < 0.5  # linear; no highlighter


def test_text_lines_cannot_be_forged() -> None:
    text = logged("text", emit_forged)
    assert "\x1b" not in text and "\r" not in text and "\u2028" not in text
    lines = text.splitlines()
    for line in lines:  # a record starts a line; a traceback's lines are indented
        assert RECORD_START.match(line) or line.startswith("    "), line
    assert sum(bool(RECORD_START.match(line)) for line in lines) == 4
    assert "twilio call CA1\\x0a[12/01/26 02:30:00] ERROR    FORGED-LINE \\x1b[2J" in lines[0]


def test_json_lines_hold_untrusted_values_as_fields() -> None:
    text = logged("json", emit_forged)
    assert "\x1b" not in text and "\r" not in text and "\u2028" not in text
    entries = [json.loads(line) for line in text.splitlines()]
    assert len(entries) == 4
    first = entries[0]
    assert first["message"] == "twilio call {call_sid}: stream {arg1} started"
    assert first["call_sid"] == FORGED and first["arg1"] == "MZ1"
    assert entries[1]["message"] == "unnamed {arg0} and {arg1}"
    assert "FORGED" not in "".join(e["message"] for e in entries[:2] + entries[3:])
    assert entries[3]["call_sid"] == FORGED and "ValueError" in entries[3]["exception"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_long_values_are_capped(fmt: LogFormat) -> None:
    def emit(logger: logging.Logger) -> None:
        logger.info("call %s", field("call_sid", "CA" + "1" * 60_000))
        logger.info("path %s", '/health?"' + "a" * 64_000)
        logger.info("message " + "b" * 64_000)

    started = time.perf_counter()
    text = logged(fmt, emit)
    assert time.perf_counter() - started < 0.5
    lines = text.splitlines()
    assert len(lines) == 3 and max(len(line) for line in lines) < 2200
    assert "...(59802 more)" in lines[0]  # a field: 200 characters
    assert "...(63009 more)" in lines[1]  # any other argument: 1000


def test_uvicorn_access_arguments_get_names() -> None:
    def emit(_: logging.Logger) -> None:
        access = logging.getLogger("uvicorn.access")
        access.handlers, access.propagate = [make_handler("json", sink)], False
        access.setLevel(logging.INFO)
        args = ("127.0.0.1:5000", "GET", '/health?"\x1b', "1.1", 404)
        access.info('%s - "%s %s HTTP/%s" %d', *args)

    sink = io.StringIO()
    logged("json", emit)
    entry = json.loads(sink.getvalue())
    assert entry["message"] == '{client} - "{method} {path} HTTP/{http_version}" 404'
    assert entry["path"] == '/health?"\x1b'


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_token_in_an_access_logged_url_is_hidden(fmt: LogFormat) -> None:
    """`GET /v1/calls?token=...` (the call records API takes the token there too)."""
    secret = "s3cret-access-token"

    def emit(_: logging.Logger) -> None:
        access = logging.getLogger("uvicorn.access")
        access.handlers, access.propagate = [make_handler(fmt, sink)], False
        access.setLevel(logging.INFO)
        for path in (f"/v1/calls?token={secret}", f"/v1/calls?limit=5&TOKEN={secret}&x=1"):
            access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200)

    sink = io.StringIO()
    logged(fmt, emit)
    text = sink.getvalue()
    assert secret not in text and text.count("[hidden]") == 2, text
    assert "limit=5&TOKEN=[hidden]&x=1" in text
