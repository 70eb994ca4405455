"""Text handling: the segment splitter and backchannel matching."""

from __future__ import annotations

from typing import Any

import pytest

from parley.conversation.backchannel import could_be_backchannel, is_backchannel
from parley.conversation.policy import DEFAULT_BACKCHANNELS
from parley.session.splitter import SentenceSplitter, speakable


def split(deltas: list[str], **options: Any) -> list[str]:
    splitter = SentenceSplitter(**options)
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
    # (No early first segment here: these are about where sentences end.)
    assert split(tokens(text), first_max_words=None, first_clause_min_words=99) == [text]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_first_sentence_with_no_early_mark_is_cut_after_six_whole_words() -> None:
    text = "The tallest mountain in the world is Mount Everest. It is in Nepal. Bye."
    assert split(tokens(text)) == [
        "The tallest mountain in the world",
        "is Mount Everest.",
        "It is in Nepal.",
        "Bye.",
    ]


def test_a_clause_mark_after_three_words_ends_the_first_segment() -> None:
    assert split(tokens("Paris is lovely, and it is the capital of France."))[0] == (
        "Paris is lovely,"
    )
    # One word before the comma is too short a phrase: the six-word cut comes first.
    assert split(tokens("Well, the capital of France is Paris, of course."))[0] == (
        "Well, the capital of France"
    )


def test_a_slow_llm_gets_its_first_words_spoken_after_the_wait() -> None:
    """An LLM slow to reach punctuation: three whole words, once the first is 0.3 s old."""
    clock = FakeClock()
    splitter = SentenceSplitter(clock=clock)
    assert splitter.push("Well ") == []
    clock.now += 0.4
    assert splitter.push("I ") == []  # two words are too few, however late
    clock.now += 0.2
    assert splitter.push("think ") == ["Well I think"]
    assert splitter.push("that it will rain") == []
    clock.now += 5.0  # later segments never wait on time: they are sentences
    assert splitter.push(" tomorrow. And") == ["that it will rain tomorrow."]
    assert splitter.flush() == ["And"]


def test_before_the_wait_a_slow_llm_is_not_cut_early() -> None:
    clock = FakeClock()
    splitter = SentenceSplitter(clock=clock)
    for word in ("Well ", "I ", "think ", "maybe "):
        clock.now += 0.05
        assert splitter.push(word) == []
    clock.now += 0.25
    assert splitter.push("not") == ["Well I think maybe"]  # "not" may still grow


@pytest.mark.parametrize(
    ("deltas", "first"),
    [
        # A word is whole only once whitespace follows it: "Par" + "is" is one word.
        (["It ", "rains ", "in ", "Par", "is", " today."], "It rains in Paris"),
        # Never between the parts of a number, nor before a number is known to be complete.
        (["It ", "is ", "about ", "10 ", "000 ", "feet ", "high."], "It is about 10 000 feet"),
        (["It ", "is ", "3", ".5 ", "metres ", "long."], "It is 3.5 metres"),
        # Never after a word a phrase cannot end on: "the", "of", "Dr.", "I'm".
        (["Paris ", "is ", "the ", "capital ", "of ", "France."], "Paris is the capital"),
        (["Please ", "ask ", "Dr. ", "Smith ", "today."], "Please ask Dr. Smith"),
        (["Sure ", "thing ", "I’m ", "happy ", "to ", "help."], "Sure thing I’m happy"),
    ],
)
def test_a_cut_by_time_falls_between_whole_words_that_can_end_a_phrase(
    deltas: list[str], first: str
) -> None:
    clock = FakeClock()
    splitter = SentenceSplitter(clock=clock)
    segments: list[str] = []
    for delta in deltas:
        clock.now += 1.0  # very slow: every push is past the wait
        segments += splitter.push(delta)
    segments += splitter.flush()
    assert segments[0] == first
    assert " ".join(segments) == speakable("".join(deltas))


def test_without_a_clock_or_cap_the_first_segment_waits_for_punctuation() -> None:
    text = "So the thing to know about this mountain is its height, which is great."
    assert split(tokens(text), first_max_words=None)[0] == (
        "So the thing to know about this mountain is its height,"
    )


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
