"""Places held by calls the webhook admitted: taken by their stream, given back after the hold."""

from __future__ import annotations

from parley.server import admission
from parley.server.admission import HeldPlaces


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
