"""The `[cluster]` settings section: one node alone (no Redis), or many sharing Redis."""

from __future__ import annotations

import os
import socket

from pydantic import BaseModel, ConfigDict, Field


class ClusterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    redis_url: str | None = Field(
        None,
        description="Redis shared by the nodes (`redis://host:6379/0`): live calls listed and "
        "commanded from any node. None: this node alone (the sessions API covers its calls).",
    )
    node_id: str | None = Field(
        None,
        max_length=100,
        description="This node's name in the list; None: the host name. Each process (each "
        "worker with --workers) is a member of its own: its pid is appended.",
    )
    heartbeat_s: float = Field(
        1.0, gt=0, le=60, description="How often a member rewrites its live calls in Redis."
    )
    node_ttl_s: float = Field(
        5.0,
        gt=0,
        le=600,
        description="A member silent this long is dead: its calls drop out of the list.",
    )

    def node_name(self) -> str:
        """This node's name: node id, or the host name. Its call records carry it."""
        return self.node_id or socket.gethostname()

    def member_id(self) -> str:
        """This process's name in Redis: node id (or host name) and pid."""
        return f"{self.node_name()}-{os.getpid()}"
