"""Log lines that no client can forge, flood or stall (invariant 11).

A Call SID, a path, a parameter name: whatever a peer sent is logged through here. `field()`
names such a value; the formatters that `configure_logging` installs escape control
characters in it and cap its length (`clean`), and then do the same to every other argument
and to the whole message, so a value that slipped through unnamed still cannot start a
second line, send an escape sequence to a terminal, or cost more than a linear pass. No
highlighter ever runs over log text: rich's took 22 s over one 64k-character URL.

Two formats: `text`, one line per record (a traceback follows indented, so no continuation
line can pass for a record), and `json`, one object per line, where each untrusted value is
its own key and the message holds only a `{name}` placeholder for it.
"""

from __future__ import annotations

import json
import logging
import numbers
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any, Literal

LogFormat = Literal["text", "json"]

LIMIT = 200  # characters of one untrusted value (a field, uvicorn's access log arguments)
ARG_LIMIT = 1000  # characters of any other argument (a turn's timing summary is ~400)
MESSAGE_LIMIT = 2000  # characters of a whole message
TRACE_LINE_LIMIT = 1000  # characters of one line of a traceback

# C0 and C1 controls, DEL, line/paragraph separators and the bidirectional overrides (which
# make a terminal show text in another order than it was written).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

# Argument names for loggers whose calls we do not write: uvicorn's access log.
_ARG_NAMES: dict[str, tuple[str, ...]] = {
    "uvicorn.access": ("client", "method", "path", "http_version", "status"),
}


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: str, limit: int = LIMIT) -> str:
    """`text` safe for one log line: cut after `limit` characters (the cut says how many
    more there were), control characters escaped as \\xNN."""
    extra = len(text) - limit
    if extra > 0:
        text = text[:limit]
    text = _UNSAFE.sub(_escape, text)
    return f"{text}...({extra} more)" if extra > 0 else text


@dataclass(frozen=True, slots=True)
class Field:
    """An untrusted value in a log call: `log.info("call %s started", field("call_sid", sid))`.
    Shown escaped and capped in text; its own key in JSON."""

    name: str
    value: object

    def __str__(self) -> str:
        return clean(str(self.value))

    def __repr__(self) -> str:
        return clean(repr(str(self.value)))


def field(name: str, value: object) -> Field:
    return Field(name, value)


class _Shown:
    """Any other argument, shown cleaned however the message formats it (%s, %r, %.80s)."""

    __slots__ = ("_limit", "_value")

    def __init__(self, value: object, limit: int) -> None:
        self._value = value
        self._limit = limit

    def __str__(self) -> str:
        return clean(str(self._value), self._limit)

    def __repr__(self) -> str:
        return clean(repr(self._value), self._limit)


class _Placeholder:
    """Stands for a field in a JSON message's text: `{name}`, whatever the format spec."""

    __slots__ = ("_text",)

    def __init__(self, name: str) -> None:
        self._text = "{" + name + "}"

    def __str__(self) -> str:
        return self._text

    __repr__ = __str__


def _is_number(value: object) -> bool:
    """Numbers carry no text: they are formatted as they are (%d, %.1f), numpy's too."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _format(record: logging.LogRecord, args: tuple[Any, ...] | Mapping[str, Any]) -> str:
    template = str(record.msg)
    if not args:
        return template
    try:
        return template % args
    except (TypeError, ValueError, KeyError):  # a bad format string: show both, cleaned
        return f"{template} {args!r}"


def _arg_limit(record: logging.LogRecord) -> int:
    return LIMIT if record.name in _ARG_NAMES else ARG_LIMIT


def text_message(record: logging.LogRecord) -> str:
    """The record's message with every argument cleaned, then the whole cleaned and capped."""
    args: Any = record.args
    limit = _arg_limit(record)
    if isinstance(args, Mapping):
        shown: Any = {k: v if _is_number(v) else _Shown(v, limit) for k, v in args.items()}
    else:
        shown = tuple(
            v if _is_number(v) or isinstance(v, Field) else _Shown(v, limit) for v in args or ()
        )
    return clean(_format(record, shown).rstrip(), MESSAGE_LIMIT)


def json_fields(record: logging.LogRecord) -> tuple[str, dict[str, str]]:
    """The message with a `{name}` placeholder for each argument that is not a number, and
    those arguments by name (uvicorn's access log arguments get their names too)."""
    args: Any = record.args
    names = _ARG_NAMES.get(record.name, ())
    limit = _arg_limit(record)
    fields: dict[str, str] = {}

    def place(key: str | int, value: object) -> object:
        if _is_number(value):
            return value
        cap = limit
        if isinstance(value, Field):
            name, value, cap = value.name, value.value, LIMIT
        elif isinstance(key, int):
            name = names[key] if key < len(names) else f"arg{key}"
        else:
            name = key
        if name in fields or name in _RESERVED:
            name = f"{name}_{len(fields)}"
        fields[name] = _cap(str(value), cap)
        return _Placeholder(name)

    if isinstance(args, Mapping):
        placed: Any = {k: place(k, v) for k, v in args.items()}
    else:
        placed = tuple(place(i, v) for i, v in enumerate(args or ()))
    return clean(_format(record, placed).rstrip(), MESSAGE_LIMIT), fields


def _cap(text: str, limit: int = LIMIT) -> str:
    """Cut without escaping: JSON escapes control characters itself."""
    extra = len(text) - limit
    return f"{text[:limit]}...({extra} more)" if extra > 0 else text


def _trace_lines(text: str) -> list[str]:
    return [clean(line, TRACE_LINE_LIMIT) for line in text.rstrip().splitlines()]


class TextFormatter(logging.Formatter):
    """`2026-12-01 02:30:00,123 WARNING parley.twilio: message`, one line; tracebacks follow
    indented."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: {text_message(record)}"
        extra = _extra_text(self, record)
        return line + "".join(f"\n    {part}" for part in _trace_lines(extra)) if extra else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the fields, any exception.
    ASCII only, so no byte of it can be a control character or a line break."""

    def format(self, record: logging.LogRecord) -> str:
        message, fields = json_fields(record)
        entry: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            **fields,
        }
        extra = _extra_text(self, record)
        if extra:
            entry["exception"] = "\n".join(_cap(line, TRACE_LINE_LIMIT) for line in
                                           extra.rstrip().splitlines())  # fmt: skip
        return json.dumps(entry, ensure_ascii=True, default=str)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = super().formatTime(record, "%Y-%m-%dT%H:%M:%S")
        return f"{stamp}.{int(record.msecs):03d}"


_RESERVED = frozenset({"time", "level", "logger", "message", "exception"})


def _extra_text(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    """The traceback and stack of a record, as logging would append them."""
    parts: list[str] = []
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    return "\n".join(parts)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record comes, not when the handler was made
    (a command run in-process by a test must not leave a handler on a closed capture)."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _: IO[str]) -> None:
        pass


# An access token in a query string (`/v1/calls?token=...`): uvicorn logs the whole path.
_TOKEN_QUERY = re.compile(r"([?&](?:token|access_token)=)[^&#\s]*", re.IGNORECASE)


def _hide_tokens(record: logging.LogRecord) -> bool:
    """Secrets never reach logs: a token in an access-logged URL is replaced."""
    args = record.args
    if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) > 2:
        path = args[2]
        if isinstance(path, str) and "token" in path.lower():
            record.args = (*args[:2], _TOKEN_QUERY.sub(r"\1[hidden]", path), *args[3:])
    return True


def make_handler(fmt: LogFormat = "text", stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing `fmt` lines to `stream` (the current stderr by default)."""
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_hide_tokens)
    return handler


def configure_logging(
    fmt: LogFormat = "text", *, level: int = logging.INFO, stream: IO[str] | None = None
) -> logging.Handler:
    """Send every log record (parley's, uvicorn's, libraries') through one safe handler,
    replacing any handler the root logger had. Returns the handler."""
    handler = make_handler(fmt, stream)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
