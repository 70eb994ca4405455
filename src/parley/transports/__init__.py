"""Transports: each translates one protocol at the edge of a session (invariant 9)."""

from parley.session.port import Hangup, InboundItem, OutboundAudio, Transport

__all__ = ["Hangup", "InboundItem", "OutboundAudio", "Transport"]
