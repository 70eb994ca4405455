"""Places held by calls the webhook admitted: taken by their stream, given back after the hold."""

from __future__ import annotations

from pathlib import Path

from parley.server import admission
from parley.server.admission import HeldPlaces, SharedHeldPlaces


def test_a_place_is_held_until_taken_or_expired() -> None:
    now = [0.0]
    held = HeldPlaces(5.0, clock=lambda: now[0])
    held.hold("CA1")
    now[0] = 1.0
    held.hold("CA2")
    assert len(held) == 2
    assert held.take("CA1") and not held.take("CA1")  # once
    assert not held.take("CA9")  # held on another worker, or never
    now[0] = 5.9
    assert len(held) == 1
    now[0] = 6.0
    assert len(held) == 0


def test_holding_again_renews_and_a_flood_is_bounded() -> None:
    now = [0.0]
    held = HeldPlaces(5.0, clock=lambda: now[0])
    held.hold("CA1")
    now[0] = 4.0
    held.hold("CA1")  # Twilio retried the webhook: one place, from now
    now[0] = 8.0
    assert len(held) == 1
    for n in range(admission.MAX_HELD + 50):
        held.hold(f"CA{n:032d}")
    assert len(held) == admission.MAX_HELD
    assert not held.take("CA" + "0" * 32)  # the oldest were dropped


def test_the_workers_of_a_node_share_their_places(tmp_path: Path) -> None:
    """Two workers' views of one node directory: a place the webhook's worker held is
    counted by the other and taken by whichever worker the stream reaches."""
    now = [1_000_000.0]
    webhooks, streams = (
        SharedHeldPlaces(tmp_path / "held", 5.0, clock=lambda: now[0]) for _ in range(2)
    )
    webhooks.hold("CA1")
    now[0] += 1.0
    webhooks.hold("CA2")
    webhooks.hold("../not-a-sid")  # only a Call SID names a file
    assert len(streams) == 2 and len(webhooks) == 2
    assert streams.take("CA1") and not webhooks.take("CA1")  # once, by either worker
    assert not streams.take("../CA2")
    now[0] += 3.9
    assert len(webhooks) == 1
    now[0] += 1.2  # CA2's stream never came: its place is given back, its file removed
    assert len(streams) == 0 and list((tmp_path / "held").iterdir()) == []
