"""Parsing Twilio's messages keeps nothing once they are dropped: 30 calls' worth of media
messages used to leave ~300 KB of their short strings (SIDs, sequence numbers, chunk numbers,
timestamps) in pydantic-core's JSON string cache, held after every call had ended."""

from __future__ import annotations

import gc
import json
import tracemalloc
import uuid
from collections.abc import Iterator

from parley.transports.twilio.messages import INBOUND


def media_messages(count: int) -> Iterator[str]:
    sid = f"MZ{uuid.uuid4().hex}"
    for i in range(count):
        media = {"track": "inbound", "chunk": str(i + 1), "timestamp": str(20 * i),
                 "payload": "/" * 216}  # fmt: skip
        yield json.dumps(
            {"event": "media", "sequenceNumber": str(i + 2), "streamSid": sid, "media": media}
        )


def test_parsed_messages_leave_nothing_behind() -> None:
    for text in media_messages(100):  # the keys, once
        INBOUND.validate_json(text)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(10):
            for text in media_messages(1000):  # 20 s of a call
                INBOUND.validate_json(text)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    retained = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert retained < 30_000, f"{retained} bytes retained"
