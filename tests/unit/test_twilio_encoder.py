"""The template encoder writes Twilio's outbound `media` and `mark` messages exactly as the
pydantic models do (the models stay the spec; the templates are the hot path)."""

from __future__ import annotations

import base64
import os

import pytest

from parley.transports.twilio.messages import (
    MarkName,
    OutboundEncoder,
    OutboundMark,
    OutboundMedia,
    OutboundPayload,
    to_wire,
)

SIDS = ["MZ" + "0123456789abcdef" * 2, 'odd "sid"\\ é\n\x01']
NAMES = ["resp_1@0.020#17", 'a "quoted"\\name\t\x1f', "été ☎ \u2028", ""]


@pytest.mark.parametrize("sid", SIDS)
def test_media_and_mark_are_the_models_text(sid: str) -> None:
    encoder = OutboundEncoder(sid)
    for size in (0, 1, 160, 800):
        payload = base64.b64encode(os.urandom(size)).decode("ascii")
        model = OutboundMedia(stream_sid=sid, media=OutboundPayload(payload=payload))
        assert encoder.media(payload) == to_wire(model)
    for name in NAMES:
        mark = OutboundMark(stream_sid=sid, mark=MarkName(name=name))
        assert encoder.mark(name) == to_wire(mark)
