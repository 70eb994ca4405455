"""Text handling: the segment splitter and backchannel matching."""

from __future__ import annotations

import pytest

from parley.conversation.backchannel import could_be_backchannel, is_backchannel
from parley.conversation.policy import DEFAULT_BACKCHANNELS
from parley.session.splitter import SentenceSplitter, speakable


def split(deltas: list[str]) -> list[str]:
    splitter = SentenceSplitter()
    segments = [s for d in deltas for s in splitter.push(d)]
    return segments + splitter.flush()


def tokens(text: str) -> list[str]:
    """Like an LLM stream: a word and its trailing space at a time."""
    import re

    return re.findall(r"\S+\s*", text)


def test_the_first_clause_goes_early_then_whole_sentences() -> None:
    text = "Well, let me think about it, because it matters. The answer is yes, mostly. Bye."
    assert split(tokens(text)) == [
        "Well, let me think about it,",
        "because it matters.",
        "The answer is yes, mostly.",
        "Bye.",
    ]


def test_a_segment_is_released_as_soon_as_its_end_is_certain() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("It costs 3.") == []  # "3." may be "3.5": wait for what follows
    assert splitter.push("5 dollars. Then") == ["It costs 3.5 dollars."]
    assert splitter.flush() == ["Then"]


@pytest.mark.parametrize(
    "text",
    [
        "Dr. Smith will see you at 4 p.m. today.",
        "Ask J. Smith, e.g. by phone.",
        "Version 2.5 is out.",
    ],
)
def test_abbreviations_initials_and_decimals_do_not_end_sentences(text: str) -> None:
    assert split(tokens(text)) == [text]


def test_markdown_is_not_read_aloud() -> None:
    assert speakable("## Plan\n**Sure!** Here is `code` and > a quote") == (
        "Plan Sure! Here is code and > a quote"
    )
    assert split(["- first item\n", "- second item\n"]) == ["first item", "second item"]


def test_a_run_on_is_cut_at_a_clause_or_a_space() -> None:
    splitter = SentenceSplitter(max_chars=40)
    text = "and then we went on and on, never stopping for breath or punctuation at all"
    segments = [s for t in tokens(text) for s in splitter.push(t)] + splitter.flush()
    assert all(len(s) <= 40 for s in segments)
    assert " ".join(segments) == text


@pytest.mark.parametrize(
    "text", ["uh-huh", "Mm-hmm.", "okay", "Right!", "yeah yeah", "Yeah, right.", "go on", "I see"]
)
def test_backchannels(text: str) -> None:
    assert is_backchannel(text, DEFAULT_BACKCHANNELS)


@pytest.mark.parametrize(
    "text", ["yeah but what about Friday", "stop", "go", "okay so", "", "right now please"]
)
def test_not_backchannels(text: str) -> None:
    assert not is_backchannel(text, DEFAULT_BACKCHANNELS)


def test_a_growing_partial_is_judged_only_when_it_cannot_be_a_backchannel() -> None:
    assert could_be_backchannel("", DEFAULT_BACKCHANNELS)
    assert could_be_backchannel("go", DEFAULT_BACKCHANNELS)  # "go on" may follow
    assert could_be_backchannel("ye", DEFAULT_BACKCHANNELS)  # "yeah", cut short
    assert could_be_backchannel("okay got", DEFAULT_BACKCHANNELS)  # "okay got it"
    assert not could_be_backchannel("okay so", DEFAULT_BACKCHANNELS)
    assert not could_be_backchannel("what", DEFAULT_BACKCHANNELS)


@pytest.mark.parametrize(
    "text",
    ["a" * 300_000, "!" * 300_000, "a." * 150_000, "x, " * 100_000, "Hi!!!)))" * 40_000],
    ids=["word", "marks", "dots", "clauses", "closers"],
)
def test_a_huge_reply_is_split_in_linear_time_into_capped_segments(text: str) -> None:
    """Invariant 11: a 300k-character reply without a space held the loop 3.9 s when every
    cut rescanned the buffer (a run of "!" took minutes: the regex backtracked)."""
    import time

    splitter = SentenceSplitter()
    started = time.perf_counter()
    segments = splitter.push(text) + splitter.flush()
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0  # about 60 ms here; the quadratic splitter took 5 s and more
    assert max(len(s) for s in segments) <= 240
    assert "".join(segments).replace(" ", "") == text.replace(" ", "")
