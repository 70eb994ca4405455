"""A parley server on loopback, run as `parley serve` runs it, with its log captured."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from parley.logsafe import LogFormat, make_handler
from parley.server import create_app
from parley.settings import Settings
from tests.serving import serving
from tests.twilio.harness import fake_providers


@contextlib.contextmanager
def server_log(fmt: LogFormat) -> Iterator[io.StringIO]:
    """What `parley serve --log-format fmt` would write, at INFO, into a string."""
    sink = io.StringIO()
    handler = make_handler(fmt, sink)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield sink
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@contextlib.asynccontextmanager
async def parley(**settings: Any) -> AsyncIterator[str]:
    """The app with fake providers under uvicorn as `parley serve` configures it; yields
    "127.0.0.1:PORT"."""
    config = Settings.model_validate(
        {"vad": "energy", "stt": "fake", "llm": "fake", "tts": "fake", **settings}
    )
    app = create_app(config, providers=fake_providers(["hello"], ["Hi there."]))
    async with serving(app, settings=config) as host:
        yield host
