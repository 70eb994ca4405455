"""Slow and broken HTTP clients are cut off within bounds, with one short log line at most.

The review held 300 connections open on `/twilio/voice` for 90 s by sending headers slowly
(uvicorn has no header timeout), and filled the log with tracebacks: one per websocket text
frame that was not UTF-8, one per client that left mid-body.
"""

from __future__ import annotations

import asyncio
import contextlib

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from .conftest import parley, server_log
from .stalls import http

FORM = "POST /twilio/voice HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded"
SID = "CA" + "1" * 32


async def slowloris(host: str, count: int, within: float) -> list[bytes]:
    """`count` connections that send a header line every 0.1 s and never finish; what each
    got back before it was closed (a reset when the server closed with our lines unread), or
    "(still open)" after `within` s."""
    hostname, port = host.split(":")

    async def one() -> bytes:
        reader, writer = await asyncio.open_connection(hostname, int(port))
        writer.write(f"POST /twilio/voice HTTP/1.1\r\nHost: {host}\r\n".encode())

        async def dribble() -> None:
            with contextlib.suppress(OSError):
                for n in range(int(within * 10)):
                    writer.write(f"X-Slow-{n}: a\r\n".encode())
                    await asyncio.sleep(0.1)

        sender = asyncio.create_task(dribble())
        try:
            async with asyncio.timeout(within):
                return await reader.read()
        except TimeoutError:
            return b"(still open)"
        except ConnectionResetError:
            return b"(reset)"
        finally:
            sender.cancel()
            writer.close()

    return await asyncio.gather(*(one() for _ in range(count)))


async def test_slow_headers_are_cut_off_at_the_deadline(measured: object) -> None:
    assert callable(measured)
    with server_log("text") as log:
        async with parley(http={"header_timeout_s": 1.0}) as host:
            loop = asyncio.get_running_loop()
            started = loop.time()
            answers = await slowloris(host, 300, within=5.0)
            elapsed = loop.time() - started
            assert (await http(host, "GET /health HTTP/1.1")).startswith(b"HTTP/1.1 200")
    measured("300 slowloris connections all closed after", elapsed, "s")
    closed = [a.startswith(b"HTTP/1.1 408") or a == b"(reset)" for a in answers]
    assert all(closed), {a[:20] for a in answers}
    assert elapsed < 4.0
    lines = [line for line in log.getvalue().splitlines() if "headers did not arrive" in line]
    assert len(lines) == 9  # the 1st, 2nd, 4th ... 256th of 300


async def test_keep_alive_requests_within_the_deadline_are_served() -> None:
    async with parley(http={"header_timeout_s": 0.5}) as host:
        hostname, port = host.split(":")
        reader, writer = await asyncio.open_connection(hostname, int(port))
        try:
            for _ in range(3):  # each request's headers get their own deadline
                await asyncio.sleep(0.3)
                writer.write(f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                status = await asyncio.wait_for(reader.readline(), 5)
                assert status.startswith(b"HTTP/1.1 200")
                length = 0
                while (line := await reader.readline()) != b"\r\n":
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
        finally:
            writer.close()


async def test_webhook_bodies_are_bounded_in_size_and_time() -> None:
    with server_log("text") as log:
        async with parley(http={"body_timeout_s": 0.5, "max_body_bytes": 4096}) as host:
            huge = await http(host, f"{FORM}\r\nContent-Length: 10000000", b"CallSid=")
            slow = await http(host, f"{FORM}\r\nContent-Length: 1000", b"CallSid=" + SID.encode())
            chunked = await http(
                host, f"{FORM}\r\nTransfer-Encoding: chunked", b"1400\r\n" + b"a" * 5120 + b"\r\n"
            )
            json_body = await http(host, "POST /twilio/voice HTTP/1.1\r\nContent-Length: 2", b"{}")
    assert huge.startswith(b"HTTP/1.1 413")
    assert slow.startswith(b"HTTP/1.1 408")
    assert chunked.startswith(b"HTTP/1.1 413")  # no length announced: counted as it comes
    assert json_body.startswith(b"HTTP/1.1 415")
    assert "Traceback" not in log.getvalue()


async def test_a_client_leaving_mid_body_costs_one_short_line() -> None:
    with server_log("text") as log:
        async with parley() as host:
            hostname, port = host.split(":")
            for _ in range(8):
                _, writer = await asyncio.open_connection(hostname, int(port))
                head = f"{FORM}\r\nHost: {host}\r\nContent-Length: 1000\r\n\r\nCallSid="
                writer.write(head.encode())
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.close()
                await writer.wait_closed()
            await asyncio.sleep(0.2)
    text = log.getvalue()
    assert "Traceback" not in text and "ClientDisconnect" not in text
    lines = [line for line in text.splitlines() if "left before its body" in line]
    assert len(lines) == 4  # the 1st, 2nd, 4th and 8th


async def test_text_frames_that_are_not_utf8_cost_one_short_line() -> None:
    with server_log("text") as log:
        async with parley() as host:
            for path in ["/ws", "/v1/realtime", "/twilio/media"] * 3:
                async with connect(f"ws://{host}{path}") as ws:
                    ws.protocol.send_frame(Frame(Opcode.TEXT, b"\xff\xfe not UTF-8"))
                    ws.send_data()
                    with contextlib.suppress(ConnectionClosed, TimeoutError):
                        async with asyncio.timeout(5):
                            while True:
                                await ws.recv()
                    assert ws.close_code == 1007  # the close itself was always right
            await asyncio.sleep(0.1)
    text = log.getvalue()
    assert "Traceback" not in text and "UnicodeDecodeError" not in text
    lines = [line for line in text.splitlines() if "not UTF-8" in line]
    assert len(lines) == 4  # the 1st, 2nd, 4th and 8th of 9


async def test_past_the_connection_limit_requests_get_503_and_few_log_lines() -> None:
    with server_log("text") as log:
        async with parley(http={"max_connections": 3}) as host:
            hostname, port = host.split(":")
            idle = [await asyncio.open_connection(hostname, int(port)) for _ in range(3)]
            answers = [await http(host, "GET /health HTTP/1.1") for _ in range(8)]
            for _, writer in idle:
                writer.close()
    assert all(a.startswith(b"HTTP/1.1 503") for a in answers)
    lines = [line for line in log.getvalue().splitlines() if "max_connections" in line]
    assert len(lines) == 4  # the 1st, 2nd, 4th and 8th
