"""The Twilio transport's section of the settings (`[twilio]`); parley.settings composes it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class TwilioSettings(BaseModel):
    """Telephone calls over Twilio Media Streams (docs/twilio.md)."""

    model_config = ConfigDict(extra="forbid")

    account_sid: str | None = Field(
        None,
        pattern=r"^AC[0-9a-fA-F]{32}$",
        description="Your Twilio Account SID (AC...): needed to hang calls up.",
    )
    auth_token: SecretStr | None = Field(
        None,
        description="Your Twilio Auth Token. When set, webhooks must carry a valid "
        "X-Twilio-Signature and media streams the token the webhook handed out.",
    )
    public_host: str | None = Field(
        None,
        description="The host name Twilio reaches this server at (a tunnel or proxy, e.g. "
        "abc.ngrok.app): used for the stream URL and to check signatures.",
    )
    api_base_url: str = Field(
        "https://api.twilio.com", description="Twilio's REST API (a local fake in tests)."
    )
    rest_timeout_s: float = Field(
        1.5,
        gt=0,
        le=30,
        description="Longest wait for the REST hangup; must be under session.close_deadline_s.",
    )
    start_timeout_s: float = Field(
        10.0, gt=0, le=120, description="How long a new media stream may take to send `start`."
    )
    max_message_bytes: int = Field(
        65_536,
        ge=1024,
        description="Larger inbound messages are dropped (a 20 ms media message is ~300 bytes).",
    )
