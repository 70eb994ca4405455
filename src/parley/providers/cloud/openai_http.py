"""What the OpenAI-compatible adapters (chat, speech, transcription) share: the HTTP client,
the key header, error sorting and the retry loops.

Self-hosted speech servers (speaches, faster-whisper-server, Kokoro-FastAPI, vLLM) usually
take no key, so one is required only by OpenAI's own API; when set, it is sent as a bearer
token. An error reply is sorted as the chat adapter sorts it: 401/403 is a bad key (never
retried), 429 and 5xx may pass (retried), anything else is the server's own error, quoted
after redaction. A request is retried after a `RetryableError` with doubling backoff; a
streamed one only until its first item is out, since another attempt would repeat it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from parley.providers.base import ProviderError
from parley.providers.cloud.common import (
    CredentialsError,
    StalledError,
    UnreachableError,
    backoff,
    is_loopback,
    quoted,
    require_key,
)
from parley.providers.scope import SessionScope

log = logging.getLogger("parley.cloud.openai_audio")
T = TypeVar("T")
KEYED_HOSTS = ("api.openai.com",)  # servers that refuse a request without a key


class RetryableError(ProviderError):
    """A failure another attempt may not meet (429, 5xx, a stall, a drop)."""

    def __init__(self, cause: ProviderError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _ErrorBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message: str = ""
    code: str | int | None = None


class _ErrorReply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    error: _ErrorBody | str | None = None
    detail: str | None = None  # FastAPI servers (Kokoro-FastAPI, speaches) answer {"detail": ...}


def new_client(base_url: str, connect_timeout: float) -> httpx.AsyncClient:
    timeout = httpx.Timeout(connect_timeout, read=None, write=connect_timeout)
    # Environment proxies are for reaching the internet, not a server on this machine.
    return httpx.AsyncClient(timeout=timeout, trust_env=not is_loopback(base_url))


def session_client(
    scope: SessionScope, owner: object, create: Callable[[], httpx.AsyncClient]
) -> httpx.AsyncClient:
    """The client `owner` keeps for one session, so the call's requests reuse the connection;
    the session closes it."""

    def created() -> httpx.AsyncClient:
        client = create()
        scope.on_close(client.aclose)
        return client

    return scope.get((type(owner), id(owner)), created)


@contextlib.asynccontextmanager
async def client_or_own(
    client: httpx.AsyncClient | None, create: Callable[[], httpx.AsyncClient]
) -> AsyncIterator[httpx.AsyncClient]:
    """`client` (a session's, which the session closes), else a new one, closed after use."""
    if client is not None:
        yield client
        return
    async with create() as own:
        yield own


def auth_headers(
    key: SecretStr | None, base_url: str, provider: str, setting: str
) -> dict[str, str]:
    """The bearer header when a key is set; a missing key fails only where one is needed."""
    if (urlsplit(base_url).hostname or "") in KEYED_HOSTS:
        key = require_key(key, provider, "OPENAI_API_KEY", setting)
    if key is None or not key.get_secret_value():
        return {}
    return {"Authorization": f"Bearer {key.get_secret_value()}"}


async def check_status(reply: httpx.Response, provider: str, key: SecretStr | None) -> None:
    """Raise the error an unsuccessful reply means (reads its body)."""
    if reply.status_code == 200:
        return
    await reply.aread()
    status = reply.status_code
    message = error_message(reply.content)
    if status in (401, 403):
        raise CredentialsError(f"{provider}: bad credentials (HTTP {status})")
    message = quoted(message, key)
    error = ProviderError(f"{provider}: HTTP {status}" + (f": {message}" if message else ""))
    if status == 429 or status >= 500:
        raise RetryableError(error)
    raise error


def error_message(body: bytes) -> str:
    """The message of an OpenAI-style (or FastAPI-style) error body, else the body."""
    try:
        reply = _ErrorReply.model_validate_json(body)
    except ValidationError:
        return body.decode("utf-8", "replace")
    if isinstance(reply.error, _ErrorBody):
        return reply.error.message
    return reply.error or reply.detail or body.decode("utf-8", "replace")


def transport_error(exc: httpx.TransportError, provider: str, timeout: float) -> RetryableError:
    if isinstance(exc, httpx.TimeoutException):
        return RetryableError(StalledError(f"{provider}: no answer within {timeout:g} s"))
    if isinstance(exc, httpx.ConnectError):
        return RetryableError(UnreachableError(f"{provider}: cannot connect ({exc})"))
    return RetryableError(UnreachableError(f"{provider}: connection lost ({type(exc).__name__})"))


async def with_retries(
    attempt: Callable[[], Awaitable[T]], *, retries: int, first_backoff: float
) -> T:
    """Run `attempt`, again after a RetryableError (with doubling backoff), at most
    `retries` more times; the last failure is raised as its cause."""
    tried = 0
    while True:
        try:
            return await attempt()
        except RetryableError as exc:
            tried = await _before_retry(exc, tried, retries, first_backoff, log)


async def stream_with_retries(
    attempt: Callable[[], AsyncGenerator[T, None]],
    *,
    retries: int,
    first_backoff: float,
    logger: logging.Logger = log,
) -> AsyncGenerator[T, None]:
    """Yield what `attempt()` yields. After a RetryableError before its first item, run it
    again (doubling backoff) at most `retries` more times; after an item, raise the failure's
    cause at once (another attempt would say it twice). Closing this generator closes the
    attempt's at once, and with it the `async with` around its response: the connection."""
    tried = 0
    while True:
        produced = False
        try:
            async with contextlib.aclosing(attempt()) as items:
                async for item in items:
                    produced = True
                    yield item
            return
        except RetryableError as exc:
            if produced:
                raise exc.cause from None
            tried = await _before_retry(exc, tried, retries, first_backoff, logger)


async def _before_retry(
    failure: RetryableError, tried: int, retries: int, first_backoff: float, logger: logging.Logger
) -> int:
    """The retry count after waiting out `failure`'s backoff; its cause when none is left."""
    if tried >= retries:
        raise failure.cause from None
    tried += 1
    delay = backoff(tried, first_backoff)
    logger.warning("%s; retry %d in %.2f s", failure, tried, delay)
    await asyncio.sleep(delay)
    return tried
