"""What the three malformed-input fuzz tests share (tests/*/test_fuzz.py).

Each fuzz test runs a real server and one live session in an event loop of its own, on a
thread, and hands it one generated malformed message per hypothesis example: hypothesis
drives plain functions, so the loop and the session outlive the examples, and a failing
example shrinks to the smallest message that breaks the session. Examples are derandomized
(the same every run) and 200 by default; PARLEY_FUZZ_EXAMPLES=5000 runs a longer search.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

T = TypeVar("T")
EXAMPLES = int(os.environ.get("PARLEY_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class LoopThread:
    """An event loop on its own thread, for a server and a client that live across examples."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fuzz loop")
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], limit: float = 20.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(limit)

    def close(self) -> None:
        async def finish() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(finish())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


# --- what malformed JSON looks like ------------------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)


JSON_VALUES = st.recursive(SCALARS, _containers, max_leaves=12)
# Numbers as written on the wire, none of them a sane position, rate or index: the constants
# Python's json accepts, overflows to infinity, values past any bound, over 4300 digits.
ODD_NUMBERS = st.sampled_from(
    ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e308", "-1", "-1e-3", "86401", "1.5e309"]
) | st.sampled_from([400, 5000]).map(lambda digits: "9" * digits)  # fmt: skip


def deep(depth: int, inner: str = "1") -> str:
    """`inner` inside `depth` levels of alternating lists and objects."""
    opening = "".join("[" if level % 2 else '{"k": ' for level in range(depth))
    closing = "".join("]" if level % 2 else "}" for level in reversed(range(depth)))
    return opening + inner + closing


DEEP = st.integers(min_value=201, max_value=3000).map(deep)
LONE_SURROGATE = st.sampled_from(['"\\ud800"', '"a\\udfff"', '"\\udc00\\ud800"'])
NOT_AN_OBJECT = (
    JSON_VALUES.filter(lambda v: not isinstance(v, dict)).map(json.dumps)
    | ODD_NUMBERS
    | DEEP
    | st.text(max_size=40).filter(lambda t: not t.lstrip().startswith("{"))
    | st.sampled_from(["", "{", '{"type": ', "[1, 2", '{"type": "x"} trailing', "nul"])
)
NOT_BASE64 = st.text(alphabet="!@#$%^&*() ~", min_size=1, max_size=20)


def odd_value() -> st.SearchStrategy[str]:
    """JSON text for a field value that no field of any parley message accepts as is: odd
    numbers, deep nesting, lone surrogates, and containers."""
    containers = st.lists(JSON_VALUES, min_size=1, max_size=3).map(json.dumps)
    return ODD_NUMBERS | DEEP | LONE_SURROGATE | containers


def with_field(message: dict[str, Any], field: str, raw: str) -> str:
    """`message` as JSON text with `field` set to the raw JSON text `raw` (spliced in)."""
    body = json.dumps({**message, field: "__RAW__"})
    return body.replace('"__RAW__"', raw, 1)


def spliced(message: dict[str, Any], field: str, values: st.SearchStrategy[str]) -> Any:
    """Messages like `message` whose `field` is each of `values` (raw JSON text)."""
    return values.map(lambda raw: with_field(message, field, raw))


def objects_without(key: str) -> st.SearchStrategy[str]:
    """JSON objects without `key`."""
    keys = st.text(max_size=8).filter(lambda k: k != key)
    return st.dictionaries(keys, JSON_VALUES, max_size=3).map(json.dumps)


def oversized(message: dict[str, Any], field: str, limit: int) -> st.SearchStrategy[str]:
    """`message` with `field` a string that makes it longer than `limit` bytes."""
    return st.integers(1, 3000).map(lambda n: json.dumps({**message, field: "A" * (limit + n)}))
