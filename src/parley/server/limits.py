"""Request bodies read within a size and a time, for the routes that read one (the webhook).

A client that announces a large body, sends it slowly, or leaves halfway gets a status and
one short log line at most: never a traceback, never a connection held past the deadline.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

from starlette.datastructures import FormData, UploadFile
from starlette.requests import ClientDisconnect, Request

from parley.settings import HttpSettings

FORM = "application/x-www-form-urlencoded"


class BodyRefusedError(Exception):
    """The body was too large, too slow, of the wrong type, or never completed."""

    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.kind = kind  # for a ProblemCounter
        self.reason = reason


async def read_body(request: Request, limits: HttpSettings) -> bytes:
    """The whole body, or BodyRefusedError (413 too large, 408 too slow, 400 the client
    left)."""
    limit = limits.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyRefusedError(413, "body size", f"a body over {limit} bytes")
    body = bytearray()
    try:
        async with asyncio.timeout(limits.body_timeout_s):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise BodyRefusedError(413, "body size", f"a body over {limit} bytes")
    except TimeoutError:
        raise BodyRefusedError(
            408, "body time", f"a body not complete within {limits.body_timeout_s:g} s"
        ) from None
    except ClientDisconnect:
        gone = "the client left before its body was complete"
        raise BodyRefusedError(400, "body gone", gone) from None
    return bytes(body)


async def read_form(request: Request, limits: HttpSettings) -> FormData:
    """An url-encoded form (what Twilio posts), read by `read_body`'s rules; 415 for any
    other content type."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise BodyRefusedError(415, "body type", f"a body that is not {FORM}")
    body = await read_body(request, limits)
    # As starlette parses forms: bytes as latin-1, percent-escapes as UTF-8.
    fields: list[tuple[str, str | UploadFile]] = []
    fields.extend(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    return FormData(fields)
