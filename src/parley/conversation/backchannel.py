"""Backchannel detection: is an utterance only "uh-huh, go on"?

An utterance is a backchannel when its words can be covered, end to end, by phrases of the
lexicon ("yeah right", "okay okay", "mm-hmm go on"). A partial transcript may still be growing,
so it also counts while its tail could be the start of a lexicon phrase ("go" of "go on").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9']+")


def words_of(text: str) -> tuple[str, ...]:
    """Lower-case words, punctuation dropped, hyphens splitting ("uh-huh" -> "uh", "huh")."""
    return tuple(_WORD.findall(text.lower().replace("-", " ")))


@lru_cache(maxsize=16)
def _phrases(lexicon: frozenset[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(sorted({words_of(p) for p in lexicon if words_of(p)}, key=len, reverse=True))


def is_backchannel(text: str, lexicon: frozenset[str]) -> bool:
    """True if the whole (final) text is made of backchannel phrases, and has some words."""
    words = words_of(text)
    return bool(words) and _covered(words, _phrases(lexicon), allow_open_tail=False)


def could_be_backchannel(text: str, lexicon: frozenset[str]) -> bool:
    """True if a growing (partial) text may still turn out to be a backchannel.

    Empty text could be anything, so it counts. The last word may be cut short ("ye" of
    "yeah") and the last phrase may be incomplete ("go" of "go on").
    """
    words = words_of(text)
    return not words or _covered(words, _phrases(lexicon), allow_open_tail=True)


def _covered(
    words: tuple[str, ...], phrases: Iterable[tuple[str, ...]], *, allow_open_tail: bool
) -> bool:
    phrases = tuple(phrases)
    n = len(words)
    reachable = [False] * (n + 1)
    reachable[0] = True
    for i in range(n):
        if not reachable[i]:
            continue
        for phrase in phrases:
            end = i + len(phrase)
            if end <= n and words[i:end] == phrase:
                reachable[end] = True
            elif allow_open_tail and end >= n and _opens(words[i:], phrase):
                return True
    return reachable[n]


def _opens(tail: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """Whether `tail` is the beginning of `phrase`, its last word possibly cut short."""
    if len(tail) > len(phrase) or not tail:
        return False
    *whole, last = tail
    return tuple(whole) == phrase[: len(whole)] and phrase[len(whole)].startswith(last)
