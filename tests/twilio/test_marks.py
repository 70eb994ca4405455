"""The mark ledger: echoes become playback reports; a clear voids what is outstanding."""

from __future__ import annotations

import pytest

from parley.session.port import PlaybackReport
from parley.testing.twilio_caller.caller_playback import CallerPlayback
from parley.transports.twilio.marks import MarkLedger, UnknownMarkError


def test_echoes_report_how_far_the_response_was_heard() -> None:
    ledger = MarkLedger()
    names = [ledger.issue("resp_1", 0.02 * (i + 1)) for i in range(5)]
    assert len(set(names)) == 5 and ledger.outstanding == 5
    assert ledger.echoed(names[0]) == PlaybackReport("resp_1", 0.02)
    # An echo implies the marks sent before it played too.
    report = ledger.echoed(names[3])
    assert report is not None and report.response_id == "resp_1"
    assert report.played == pytest.approx(0.08)
    assert ledger.outstanding == 1
    with pytest.raises(UnknownMarkError):
        ledger.echoed(names[1])  # already accounted for
    with pytest.raises(UnknownMarkError, match="never sent"):
        ledger.echoed("made-up")


def test_after_a_clear_outstanding_marks_mean_nothing() -> None:
    ledger = MarkLedger()
    before = [ledger.issue("resp_1", 0.02 * (i + 1)) for i in range(3)]
    assert ledger.void_outstanding() == 3
    again = ledger.issue("resp_1", 0.02)  # resumed from the same place: a new name
    assert again not in before
    assert [ledger.echoed(n) for n in before] == [None, None, None]  # Twilio's clear echoes
    assert ledger.voided_echoes == 3
    assert ledger.echoed(again) == PlaybackReport("resp_1", 0.02)


def test_a_caller_that_never_echoes_does_not_pile_up_marks() -> None:
    ledger = MarkLedger()
    names = [ledger.issue("resp_1", 0.02 * (i + 1)) for i in range(10_000)]  # 200 s of audio
    assert ledger.outstanding == 3000
    assert ledger.forgotten == 7000
    with pytest.raises(UnknownMarkError):
        ledger.echoed(names[0])  # forgotten
    report = ledger.echoed(names[-1])
    assert report is not None and report.played == pytest.approx(200.0)


def test_caller_playback_plays_in_real_time_and_honours_clear() -> None:
    playback = CallerPlayback(8000)
    frame = bytes(320)  # 20 ms
    for _ in range(5):
        playback.add_audio(10.0, frame)
        playback.add_mark(10.0, f"m{_}")
    assert playback.next_mark_due() == pytest.approx(10.02)
    assert playback.due_marks(10.045) == ["m0", "m1"]
    pending = playback.clear(10.05)  # mid-way through the third frame
    assert pending == ["m2", "m3", "m4"]
    assert playback.heard_seconds(11.0) == pytest.approx(0.05)
    assert playback.clears[0].dropped_seconds == pytest.approx(0.05)
    playback.add_audio(10.5, frame)  # plays from its arrival, not from the old queue
    assert playback.first_heard_after(10.05) == pytest.approx(10.5)
    assert len(playback.heard_audio(11.0)) == 400 + 160
