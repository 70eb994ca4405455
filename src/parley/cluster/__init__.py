"""Many nodes (docs/deploy.md): the live calls of every node, and commands and event streams
that reach the node holding a call, through Redis. Without Redis, the same API on one node."""

from parley.cluster.local import LiveSessions, SessionInfo
from parley.cluster.node import ClusterNode, ClusterUnavailableError
from parley.cluster.settings import ClusterSettings

__all__ = ["ClusterNode", "ClusterSettings", "ClusterUnavailableError", "LiveSessions",
           "SessionInfo"]  # fmt: skip
