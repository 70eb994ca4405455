"""The model process's channel: one frame = a JSON header and raw bytes (PCM), both sized.

Frame layout: 4-byte header length, 4-byte payload length (big-endian), the header as UTF-8
JSON, then the payload. Both ends are our own code (a child we started), so JSON is all the
structure needed; audio rides as raw bytes beside it, never inside the JSON.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from typing import Any, BinaryIO

Header = dict[str, Any]

_PREFIX = struct.Struct("!II")
MAX_HEADER = 64 * 1024 * 1024  # a long chat history is the largest header
MAX_PAYLOAD = 256 * 1024 * 1024  # 30 s of audio is about 1 MB


class ChannelClosedError(ConnectionError):
    """The other end went away (it exited, or closed its end)."""


def encode(header: Header, payload: bytes = b"") -> bytes:
    body = json.dumps(header, separators=(",", ":")).encode()
    return _PREFIX.pack(len(body), len(payload)) + body + payload


def read_frame(stream: BinaryIO) -> tuple[Header, bytes]:
    """The next frame from a buffered reader; ChannelClosedError at the end of the stream."""
    prefix = _read_exactly(stream, _PREFIX.size)
    header_size, payload_size = _PREFIX.unpack(prefix)
    if header_size > MAX_HEADER or payload_size > MAX_PAYLOAD:
        raise ChannelClosedError(f"frame too large ({header_size} + {payload_size} bytes)")
    header = json.loads(_read_exactly(stream, header_size))
    if not isinstance(header, dict):
        raise ChannelClosedError("frame header is not a JSON object")
    return header, _read_exactly(stream, payload_size) if payload_size else b""


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if data is None or len(data) < size:
        raise ChannelClosedError("channel closed")
    return data


class Writer:
    """Whole frames onto a socket from any thread: a lock keeps frames from interleaving."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()

    def send(self, header: Header, payload: bytes = b"") -> None:
        frame = encode(header, payload)
        try:
            with self._lock:
                self._sock.sendall(frame)
        except OSError as exc:
            raise ChannelClosedError(f"channel closed ({exc})") from exc
