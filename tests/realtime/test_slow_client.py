"""A client that floods bad messages and never reads what comes back: its error events must
not pile up in the server without bound, and its session must end (the server's writes stall
on the full socket) well before a websocket ping timeout would end it.

The client is a bare TCP socket that does the websocket handshake and then only writes: a
websocket library would go on reading (and answering pings) underneath an application that
has stopped reading, which is a different case.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket

import pytest

from parley.transports import outbound

from .harness import API_KEY, fake_providers, realtime_server

BAD = json.dumps({"type": "response.explode"})  # each earns an `error` event of ~420 bytes


def masked_text_frame(text: str) -> bytes:
    """One client-to-server websocket text frame (RFC 6455: clients mask)."""
    payload, mask = text.encode(), os.urandom(4)
    size = len(payload)
    header = bytes([0x81, 0x80 | size]) if size < 126 else bytes([0x81, 0xFE]) + size.to_bytes(2)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def open_never_reading(host: str, path: str) -> asyncio.StreamWriter:
    """Connect, upgrade to a websocket, and from then on never read a byte."""
    address, port = host.split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (address, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {API_KEY}\r\n\r\n".encode()
    )
    response = await reader.readuntil(b"\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 101"), response
    return writer


async def test_a_client_that_does_not_read_is_bounded_then_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbound, "WRITE_TIMEOUT_S", 2.0)
    async with realtime_server(
        fake_providers([], []), realtime={"max_messages_per_second": 20_000}
    ) as site:
        writer = await open_never_reading(site.host, "/v1/realtime?model=m")
        loop = asyncio.get_running_loop()
        started = loop.time()
        while not site.state.sessions and loop.time() - started < 5:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        (session,) = site.state.sessions._sessions.values()
        queue = session.transport._queue  # type: ignore[attr-defined]
        burst = masked_text_frame(BAD) * 100
        longest = 0
        try:
            while site.state.sessions and loop.time() - started < 30:
                writer.write(burst)
                await asyncio.wait_for(writer.drain(), 5)
                longest = max(longest, len(queue))
                await asyncio.sleep(0.01)  # up to 10,000 messages a second
        except (ConnectionError, TimeoutError):
            pass  # the server closed the connection
        closed_after = loop.time() - started
        writer.transport.abort()

    assert not site.state.sessions, "the session of a client that never reads did not end"
    assert closed_after < 20, f"ended after {closed_after:.1f} s"
    assert queue.stalled is not None
    assert queue.optional_dropped > 0
    assert longest <= 501  # error events stop queueing at 500
    assert session.end_reason == "transport failed"
