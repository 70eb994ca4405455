"""JSON from a client, parsed so that no message can raise anything but `WireJSONError`.

Every websocket transport reads client JSON through `parse` (invariant 10: a bad message is
an error event, never the end of the session). It refuses, whatever the decoder raises for
it (ValueError, RecursionError, UnicodeError, MemoryError):
- text that is not JSON, or not UTF-8, and strings holding a lone surrogate (`"\\ud800"`),
  which no reply or log line could encode;
- the constants `NaN`, `Infinity` and `-Infinity`, which Python's json module accepts (a
  played position of Infinity once ended a call in `round()`);
- nesting deeper than about 200 levels, and integers of more than 4300 digits.
Literals that overflow to infinity (`1e400`) parse as floats: the wire models refuse them
(`allow_inf_nan=False` on every model), and the numbers parley computes with carry bounds.

The parser is pydantic-core's (Rust): linear, and its depth limit is its own recursion
limit, so a 1,000-level `[[[...]]]` costs microseconds and no Python stack (invariant 11).
Its cost grows with the number of values, not bytes: an 8 MB array of 2.7M zeros took 250 ms
of the event loop, while an 8 MB string (an audio append) takes about 1 ms. So a large message
with more than `MAX_VALUES` commas is refused before it is parsed: one `str.count` pass.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json

MAX_DEPTH = 200  # about: pydantic-core's recursion limit (jiter), not a setting of ours
MAX_VALUES = 20_000  # commas in one message: parsing that many values costs a few ms
_COUNT_VALUES_FROM = 64 * 1024  # smaller messages cannot hold enough values to matter


class WireJSONError(ValueError):
    """The text is not JSON parley accepts; the message says why, briefly."""


def parse(text: str | bytes) -> Any:
    """The JSON value of `text`; raises WireJSONError, and nothing else, when it has none."""
    if len(text) > _COUNT_VALUES_FROM:
        values = text.count(b",") if isinstance(text, bytes) else text.count(",")
        if values > MAX_VALUES:
            raise WireJSONError(f"too many values in one message (more than {MAX_VALUES})")
    try:
        return from_json(text, allow_inf_nan=False)
    except Exception as exc:  # the decoder's own failures, whatever their class
        reason = str(exc)[:120] or type(exc).__name__
        if "recursion limit" in reason:
            reason = f"nested too deeply (more than about {MAX_DEPTH} levels)"
        raise WireJSONError(reason) from None
