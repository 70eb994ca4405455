"""Calls, their turns and their errors.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from parley.records.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STAGES = (
    "speech_started",
    "speech_start_decided",
    "speech_ended",
    "endpoint_decided",
    "stt_final",
    "committed",
    "llm_first_token",
    "tts_first_audio",
    "first_audio_out",
    "interruption_decided",
    "output_stopped",
    "ended",
)


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("transport", sa.String(16), nullable=False),
        sa.Column("twilio_call_sid", sa.String(34), nullable=True),
        sa.Column("twilio_from", sa.String(64), nullable=True),
        sa.Column("twilio_to", sa.String(64), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("last_activity_at", UTCDateTime(), nullable=False),
        sa.Column("end_reason", sa.String(200), nullable=True),
        sa.Column("providers", sa.JSON(), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("recording", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_calls_started", "calls", ["started_at", "id"])
    op.create_index("ix_calls_transport_started", "calls", ["transport", "started_at", "id"])
    op.create_index("ix_calls_open", "calls", ["ended_at"])
    op.create_table(
        "turns",
        sa.Column(
            "call_id",
            sa.String(32),
            sa.ForeignKey("calls.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("index", sa.Integer(), primary_key=True),
        sa.Column("response_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("user_text", sa.Text(), nullable=False),
        sa.Column("agent_text", sa.Text(), nullable=False),
        sa.Column("heard_text", sa.Text(), nullable=False),
        sa.Column("pauses", sa.Integer(), nullable=False),
        sa.Column("resumes", sa.Integer(), nullable=False),
        *(sa.Column(stage, sa.Float(), nullable=True) for stage in STAGES),
    )
    op.create_table(
        "call_errors",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "call_id",
            sa.String(32),
            sa.ForeignKey("calls.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at_s", sa.Float(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_index("ix_call_errors_call_id", "call_errors", ["call_id"])


def downgrade() -> None:
    op.drop_table("call_errors")
    op.drop_table("turns")
    op.drop_table("calls")
