"""The per-call stream token: what `/twilio/media` requires in `start.customParameters`.

It lives with the protocol (not the server's routes) because both ends make it: the route
that admits a stream, and the fake caller / `parley call` that places one.
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

TOKEN_PARAMETER = "parley_token"


def call_token(key: SecretStr, call_sid: str) -> str:
    """The stream token for a call: proves the stream came from an authenticated webhook."""
    secret = key.get_secret_value().encode()
    return hmac.new(secret, f"parley-stream:{call_sid}".encode(), hashlib.sha256).hexdigest()
