"""Cuts a stream of LLM text into segments worth speaking, as early as is natural.

The first segment of a reply is short, because the first sound waits for its synthesis
(Piper takes about 0.05-0.2 s per second of speech on two cores, and nothing comes out
before the whole segment is made): it ends at the first sentence end, at the first clause
mark (a comma, a colon, a dash...) once it has `first_clause_min_words` words, after
`first_max_words` words, or, when the LLM is slow to reach any of those, after
`first_min_words` words once the first word is `first_wait` seconds old (on the session
clock, checked as text arrives). A cut by word count falls only between whole words (a word
is whole once whitespace follows it), never between two parts of a number, and never right
after a word that cannot end a phrase ("the", "of", "Dr."). Later segments are whole
sentences, which sound better. A boundary only counts once the next character shows it
(whitespace after the punctuation), so "3.5" and "e.g." are not cut. Markdown that an LLM
may emit despite instructions is stripped: it must not be read aloud.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from parley import timing

# Possessive, and only from the start of a run of marks: a run of 300k "!" costs one pass, not
# one pass per mark.
_SENTENCE_END = re.compile(r"(?<![.!?…])[.!?…]++[\"')\]]*+\s|\n+")
_CLAUSE_END = re.compile(r"[,;:—–]\s")
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "a.m", "p.m",
     "no", "approx", "dept", "est", "fig", "inc", "ltd", "co", "mt", "ft"}
)  # fmt: skip
_MARKDOWN = re.compile(r"(\*\*|__|\*|`+|^#+\s*|^\s*[-*+]\s+|^\s*>\s*)", re.MULTILINE)
_HAS_WORD = re.compile(r"[^\W\d_]", re.UNICODE)
_SPACE = re.compile(r"\s")
_WHOLE_WORD = re.compile(r"\S+\s+")  # a word is whole once whitespace follows it
_NUMBER_END = re.compile(r"\d[.,]?$")
_NUMBER_START = re.compile(r"^[\d.,]")
# Words a phrase cannot end on: a first segment cut after one sounds broken off.
_NO_END = frozenset(
    {"a", "an", "the", "of", "to", "in", "on", "at", "for", "with", "from", "by", "about",
     "into", "than", "as", "and", "or", "but", "so", "if", "that", "which", "who", "is",
     "are", "was", "were", "be", "been", "am", "will", "would", "can", "could", "should",
     "do", "does", "did", "has", "have", "had", "not", "my", "your", "our", "their", "his",
     "her", "its", "this", "these", "those", "i", "you", "we", "they", "it", "very", "most",
     "more", "some", "any", "no", "one", "each", "every", "i'm", "you're", "we're",
     "they're", "it's", "that's", "there's", "here's", "what's", "he's", "she's", "let's",
     "i'll", "you'll", "we'll", "i've", "you've", "we've", "i'd", "you'd"}
)  # fmt: skip


def speakable(text: str) -> str:
    """Text as it should be spoken: markdown marks removed, whitespace collapsed."""
    return " ".join(_MARKDOWN.sub("", text).split())


class SentenceSplitter:
    """Push text as it streams; take the segments each push completes.

    Why three words at least: Piper's time is about proportional to the speech it makes (2,
    3, 6 and 12 words of one sentence took 169, 229, 266 and 692 ms on two busy cores, for
    0.8, 1.15, 1.7 and 3.4 s of speech), so shorter is sooner, but the first segment's
    speech is also the time the rest of the sentence has to be generated and synthesized
    before it is needed, and a word or two on its own is not yet a phrase. Three words is
    about a second of speech. Six words at most keeps Piper's first synthesis short when the
    LLM is fast. `clock` defaults to the session clock (`timing.now`, the running loop's
    time, so the virtual clock in tests); outside an event loop, with none given, no cut
    waits on time.
    """

    def __init__(
        self,
        *,
        first_clause_min_words: int = 3,
        first_min_words: int = 3,
        first_max_words: int | None = 6,
        first_wait: float = 0.3,
        clock: Callable[[], float] | None = None,
        max_chars: int = 240,
    ) -> None:
        self._first_clause_min_words = first_clause_min_words
        self._first_min_words = first_min_words
        self._first_max_words = first_max_words
        self._waited = first_wait - 1e-9  # a float clock's 0.1 + 0.2 counts as 0.3
        self._clock = clock
        self._max_chars = max_chars
        self._buffer = ""
        self._emitted = 0
        self._first_word_at: float | None = None

    def push(self, delta: str) -> list[str]:
        """Add streamed text; return the segments it completed.

        Each cut looks at most `max_chars` + 1 characters past the last one, and the buffer is
        shortened once at the end, so a long delta costs time in proportion to its length (a
        300k-character reply without a space took 3.9 s when every cut rescanned and copied
        the rest). No segment is longer than `max_chars`: past it, the cut is forced."""
        self._buffer += delta
        if self._first_word_at is None and delta.strip():
            self._first_word_at = self._now()
        segments: list[str] = []
        start, window = 0, self._max_chars + 1
        while (cut := self._find_cut(self._buffer[start : start + window])) is not None:
            self._take(self._buffer[start : start + cut], segments)
            start += cut
        if start:
            self._buffer = self._buffer[start:]
        return segments

    def flush(self) -> list[str]:
        """The stream ended: whatever is left is the last segment."""
        segments: list[str] = []
        self._take(self._buffer, segments)
        self._buffer = ""
        return segments

    def _take(self, raw: str, out: list[str]) -> None:
        text = speakable(raw)
        if text:
            out.append(text)
            self._emitted += 1

    def _find_cut(self, text: str) -> int | None:
        """Where to cut `text` (the start of the buffer, at most max_chars + 1 long)."""
        for match in _SENTENCE_END.finditer(text):
            if self._is_sentence_end(text, match.start()) and _HAS_WORD.search(text[: match.end()]):
                return match.end()
        if self._emitted == 0:
            for match in _CLAUSE_END.finditer(text):
                if len(text[: match.start()].split()) >= self._first_clause_min_words:
                    return match.end()
            if (cut := self._word_cut(text)) is not None:
                return cut
        if len(text) > self._max_chars:
            return self._fallback_cut(text)
        return None

    def _now(self) -> float | None:
        if self._clock is not None:
            return self._clock()
        try:
            return timing.now()
        except RuntimeError:
            return None

    def _word_cut(self, text: str) -> int | None:
        """The first segment by word count: after `first_max_words` whole words, or after
        `first_min_words` once the first word has waited `first_wait` seconds."""
        limit = self._first_max_words
        started, now = self._first_word_at, self._now()
        if started is not None and now is not None and now - started >= self._waited:
            limit = self._first_min_words
        if limit is None:
            return None
        words = list(_WHOLE_WORD.finditer(text))
        if len(words) < limit:
            return None
        # Whole words only: the last one may still grow ("Par" + "is"), so it is not counted
        # unless whitespace follows it, which the pattern demands.
        for count in range(min(len(words), self._first_max_words or len(words)), 0, -1):
            if count < self._first_min_words:
                return None
            if self._can_end(words[count - 1].group().strip(), text[words[count - 1].end() :]):
                return words[count - 1].end()
        return None

    @staticmethod
    def _can_end(word: str, rest: str) -> bool:
        bare = word.lower().replace("\u2019", "'").strip("\"'()[]")
        if bare in _NO_END or bare.rstrip(".") in _ABBREVIATIONS:
            return False
        if len(bare) == 2 and bare[1] == "." and bare[0].isalpha():  # an initial: "J."
            return False
        # "10 000": a number may go on in the next word, so wait to see it.
        return not (_NUMBER_END.search(bare) and (not rest or _NUMBER_START.match(rest)))

    @staticmethod
    def _is_sentence_end(text: str, position: int) -> bool:
        if text[position] != ".":
            return True
        word = re.search(r"([\w.]+)$", text[:position])
        if word is None:
            return True
        token = word.group(1).lower()
        if token in _ABBREVIATIONS:
            return False
        return not (len(token) == 1 and token.isalpha())  # an initial: "J. Smith"

    def _fallback_cut(self, text: str) -> int:
        """A run-on with no sentence end: cut at the last clause mark or space in range."""
        window = text[: self._max_chars]
        for pattern in (_CLAUSE_END, _SPACE):
            matches = list(pattern.finditer(window))
            if matches:
                return matches[-1].end()
        return self._max_chars
