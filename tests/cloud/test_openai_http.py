"""The retry loop the OpenAI-compatible chat and speech adapters share (openai_http)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest

from parley.providers.base import ProviderError
from parley.providers.cloud.common import StalledError
from parley.providers.cloud.openai_http import RetryableError, stream_with_retries


def attempts(
    outcomes: list[list[str | ProviderError]], log: list[str]
) -> AsyncGenerator[str, None]:
    """Each attempt yields its outcome's words and raises its error (retryable, if one)."""

    async def attempt() -> AsyncGenerator[str, None]:
        outcome = outcomes[len([e for e in log if e == "start"])]
        log.append("start")
        try:
            for step in outcome:
                if isinstance(step, ProviderError):
                    raise RetryableError(step)
                yield step
        finally:
            log.append("closed")

    return stream_with_retries(attempt, retries=2, first_backoff=0.001)


async def test_a_failure_before_the_first_item_is_retried() -> None:
    log: list[str] = []
    stall = StalledError("no audio")
    items = attempts([[stall], [stall], ["one", "two"]], log)
    assert [item async for item in items] == ["one", "two"]
    assert log == ["start", "closed"] * 3


async def test_retries_run_out_with_the_last_failures_cause() -> None:
    log: list[str] = []
    items = attempts(
        [[StalledError("first")], [StalledError("second")], [StalledError("third")]], log
    )
    with pytest.raises(StalledError, match="third"):
        [item async for item in items]
    assert log.count("start") == 3


async def test_a_failure_after_an_item_is_not_retried() -> None:
    log: list[str] = []
    items = attempts([["one", StalledError("cut")], ["one", "two"]], log)
    assert await anext(items) == "one"
    with pytest.raises(StalledError, match="cut"):
        await anext(items)
    assert log == ["start", "closed"]  # a second attempt would say "one" again


async def test_closing_closes_the_attempt_before_it_returns() -> None:
    """The attempt's `async with` around its response must be left at once (a barge-in
    closes the connection), not whenever the garbage collector gets to it."""
    log: list[str] = []
    items = attempts([["one", "two"]], log)
    assert await anext(items) == "one"
    await items.aclose()
    assert log == ["start", "closed"]
