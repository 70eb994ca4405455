"""What every cloud adapter needs: keys, errors that say what went wrong, connections.

Failures are sorted into the few kinds a person can act on (a bad key, no route, a stall),
so `parley check` and the session's error events can say which. Every message that may
quote a server is passed through `redact` first: a key never reaches a log or an error.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from parley.providers.base import ProviderError


class CredentialsError(ProviderError):
    """The provider refused the key (missing, wrong, or without access)."""


class UnreachableError(ProviderError):
    """The provider could not be reached (no route, refused, DNS, TLS)."""


class StalledError(ProviderError):
    """The provider accepted the request and then went silent past a deadline."""


class ConnectionLostError(ProviderError):
    """An established connection dropped."""


def require_key(key: SecretStr | None, provider: str, variable: str, setting: str) -> SecretStr:
    if key is None or not key.get_secret_value():
        raise CredentialsError(f"{provider}: no API key (set {setting} or {variable})")
    return key


def redact(text: str, *secrets: SecretStr | None) -> str:
    """`text` with every secret (and any long tail of it) replaced by ***."""
    for secret in secrets:
        if secret is None:
            continue
        value = secret.get_secret_value()
        if len(value) >= 4:
            text = text.replace(value, "***")
        if len(value) >= 12:  # servers often echo a key's last characters
            text = text.replace(value[-8:], "***")
    return text


def quoted(text: str, *secrets: SecretStr | None, limit: int = 200) -> str:
    """A server's text for an error or a log: redacted first, then cut to `limit`
    characters (cut first, a key straddling the cut would keep all but its tail)."""
    return redact(text, *secrets)[:limit].strip()


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def backoff(attempt: int, first: float, cap: float = 5.0) -> float:
    """Delay before retry `attempt` (1-based): `first`, doubling, at most `cap`."""
    return float(min(cap, first * 2 ** (attempt - 1)))


async def open_websocket(
    url: str,
    headers: dict[str, str],
    *,
    provider: str,
    open_timeout: float,
    secret: SecretStr | None,
) -> ClientConnection:
    """Connect, turning every failure into a ProviderError of the right kind."""
    try:
        return await connect(
            url,
            additional_headers=headers,
            open_timeout=open_timeout,
            proxy=None if is_loopback(url) else True,
            max_size=16 * 2**20,
            compression=None,  # audio does not compress; deflate only costs CPU
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        body = quoted(exc.response.body.decode("utf-8", "replace"), secret)
        detail = f"HTTP {status}" + (f": {body}" if body else "")
        if status in (401, 403):
            raise CredentialsError(f"{provider}: bad credentials ({detail})") from None
        raise ProviderError(f"{provider}: connection refused ({detail})") from None
    except TimeoutError:
        raise StalledError(f"{provider}: no answer within {open_timeout:g} s") from None
    except InvalidURI as exc:
        raise UnreachableError(f"{provider}: bad URL ({exc})") from None
    except (OSError, InvalidHandshake) as exc:
        reason = redact(str(exc) or type(exc).__name__, secret)
        raise UnreachableError(f"{provider}: cannot connect to {_host(url)} ({reason})") from None


def closed_error(provider: str, exc: ConnectionClosed, secret: SecretStr | None) -> ProviderError:
    """The error for a websocket that closed under us, by its close code."""
    frame = exc.rcvd
    if frame is None:
        return ConnectionLostError(f"{provider}: connection dropped (no close frame)")
    reason = redact(frame.reason, secret)
    detail = f"code {frame.code}" + (f", {reason}" if reason else "")
    if credentials_problem(reason):  # 1008 (ElevenLabs), 3000 (OpenAI Realtime), ...
        return CredentialsError(f"{provider}: bad credentials ({detail})")
    return ConnectionLostError(f"{provider}: connection closed ({detail})")


def credentials_problem(text: str) -> bool:
    """Does a server's error text say the key is the problem?"""
    lowered = text.lower()
    return any(w in lowered for w in ("api key", "api_key", "auth", "unauthori", "credential"))


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


async def close_quietly(ws: ClientConnection, grace: float = 1.0) -> None:
    """Close a websocket, giving the peer `grace` seconds to answer; never raises."""
    try:
        async with asyncio.timeout(grace):
            await ws.close()
    except (TimeoutError, OSError, ConnectionClosed):
        ws.transport.abort()
