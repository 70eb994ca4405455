"""The conversation: a pure state machine, its turn-taking policy and its history rules.

Nothing in this package awaits, sleeps, reads a clock or touches I/O (invariant 7).
"""

from parley.conversation.machine import Conversation
from parley.conversation.policy import DEFAULT_BACKCHANNELS, TurnTakingPolicy
from parley.conversation.state import Phase

__all__ = ["DEFAULT_BACKCHANNELS", "Conversation", "Phase", "TurnTakingPolicy"]
