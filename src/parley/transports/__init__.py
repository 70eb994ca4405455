"""Transports: each translates one protocol at the edge of a session (invariant 9)."""

from parley.transports.base import Hangup, InboundItem, OutboundAudio, Transport

__all__ = ["Hangup", "InboundItem", "OutboundAudio", "Transport"]
