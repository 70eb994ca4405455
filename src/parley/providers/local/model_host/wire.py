"""The model process's channel: one frame = a JSON header and raw bytes (PCM), both sized.

Frame layout: 4-byte header length, 4-byte payload length (big-endian), the header as UTF-8
JSON, then the payload. Both ends are our own code (a child we started), so JSON is all the
structure needed; audio rides as raw bytes beside it, never inside the JSON.
"""

from __future__ import annotations

import json
import queue
import socket
import struct
import threading
from typing import Any, BinaryIO

Header = dict[str, Any]

_PREFIX = struct.Struct("!II")
MAX_HEADER = 64 * 1024 * 1024  # a long chat history is the largest header
MAX_PAYLOAD = 256 * 1024 * 1024  # 30 s of audio is about 1 MB
MAX_UNWRITTEN = 32 * 1024 * 1024  # queued for a child that is not reading (32 long requests)
SMALL_FRAME = 4096  # a cancel or an unload: always queued, whatever the backlog


class ChannelClosedError(ConnectionError):
    """The other end went away (it exited, or closed its end)."""


class ChannelBackedUpError(ConnectionError):
    """The other end has not read what was already sent: a request now would only queue."""


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
        self.send_frame(encode(header, payload))

    def send_frame(self, frame: bytes) -> None:
        try:
            with self._lock:
                self._sock.sendall(frame)
        except OSError as exc:
            raise ChannelClosedError(f"channel closed ({exc})") from exc


class QueuedWriter:
    """Whole frames onto a socket from a thread of its own, so `send` never blocks its caller.

    The session process sends from its event loop (a request, a cancel during a barge-in).
    A child that stops reading (hung, stopped, busy past the socket's buffer: a request
    carries up to 1 MB of audio) would block a direct `sendall`, and the loop with it
    (invariant 1). Frames queue here instead; once a write fails, later sends raise and the
    frames still queued are dropped (the reader thread sees the child go and fails its jobs).
    The queue is bounded: past `MAX_UNWRITTEN` bytes not yet written, a request is refused
    (ChannelBackedUpError, which costs its turn) rather than queued; small frames (cancels)
    always go in, so a barge-in still stops what the child runs once it reads again.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._writer = Writer(sock)
        self._frames: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._failed: str | None = None
        self._unwritten = 0  # bytes queued and not yet written
        self._count_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="parley-model-writer", daemon=True)
        self._thread.start()

    def send(self, header: Header, payload: bytes = b"") -> None:
        if self._failed is not None:
            raise ChannelClosedError(self._failed)
        frame = encode(header, payload)
        with self._count_lock:
            if len(frame) > SMALL_FRAME and self._unwritten + len(frame) > MAX_UNWRITTEN:
                mib = self._unwritten / 2**20
                raise ChannelBackedUpError(f"{mib:.1f} MiB of earlier requests not yet read")
            self._unwritten += len(frame)
        self._frames.put(frame)

    def close(self) -> None:
        """End the thread once what is queued has been written (or the channel failed)."""
        self._frames.put(None)

    def _run(self) -> None:
        while (frame := self._frames.get()) is not None:
            try:
                if self._failed is None:  # else drop: the channel is gone
                    self._writer.send_frame(frame)
            except ChannelClosedError as exc:
                self._failed = str(exc)
            finally:
                with self._count_lock:
                    self._unwritten -= len(frame)
