"""Twilio's two doors into the server: the voice webhook and the media stream.

`POST /twilio/voice` answers a call with TwiML that connects it to `wss://HOST/twilio/media`.
With an auth token configured, the webhook's X-Twilio-Signature must check out (the twilio
SDK's RequestValidator), and the TwiML hands the stream a per-call token (an HMAC of the Call
SID) that `/twilio/media` requires in `start.customParameters`: only calls Twilio really
placed get a session. Without an auth token but with the server's `access_token`, the
webhook asks for HTTP Basic auth with the access token as password (Twilio sends it when the
webhook URL carries `user:token@`), and the per-call token is keyed with the access token:
the Twilio routes are never the one open door of a server that requires a token.
A node at capacity (admission settings) answers `<Reject reason="busy"/>`, so the caller hears
a busy signal and the stream is never opened; a stream that arrives anyway is closed.
`TwilioCalls` knows the calls in progress, so server code can hang one up by its Call SID.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Callable

from fastapi import APIRouter, FastAPI, Request, Response, WebSocket
from pydantic import SecretStr
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, VoiceResponse

from parley.logsafe import field
from parley.server.limits import BodyRefusedError, read_form
from parley.server.state import ServerNotReadyError, SessionIdInUseError, server_state
from parley.session import Session
from parley.settings import Settings
from parley.transports.twilio.messages import StreamStart
from parley.transports.twilio.rest import TwilioRest, TwilioRestError
from parley.transports.twilio.settings import TwilioSettings
from parley.transports.twilio.stream_token import TOKEN_PARAMETER, call_token
from parley.transports.twilio.transport import (
    CALL_SID,
    HangUpCall,
    StreamNotStartedError,
    TransferCall,
    TwilioTransport,
)

log = logging.getLogger("parley.twilio")
router = APIRouter(tags=["twilio"])

CallStarted = Callable[[StreamStart, Session], None]


class TwilioCalls:
    """The calls in progress on this server, by Call SID."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        # Called as each call's session starts: attach observers (DTMF, transcripts) here.
        self.on_call_started: list[CallStarted] = []

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, call_sid: str) -> Session | None:
        return self._sessions.get(call_sid)

    def hang_up(self, call_sid: str, reason: str = "agent ended the call") -> bool:
        """End a call from the server: audio stops now, then the REST hangup and close.
        False if no such call is in progress here."""
        session = self._sessions.get(call_sid)
        if session is None:
            return False
        session.hangup(reason)
        return True

    def _started(self, call: StreamStart, session: Session) -> None:
        self._sessions[call.call_sid] = session
        for callback in self.on_call_started:
            try:
                callback(call, session)
            except Exception:
                log.exception("twilio call %s: an on_call_started callback failed",
                              field("call_sid", call.call_sid))  # fmt: skip

    def _ended(self, call_sid: str) -> None:
        self._sessions.pop(call_sid, None)


def twilio_calls(app: FastAPI) -> TwilioCalls:
    """The app's call registry (made on first use)."""
    calls: TwilioCalls | None = getattr(app.state, "twilio_calls", None)
    if calls is None:
        calls = TwilioCalls()
        app.state.twilio_calls = calls
    return calls


def stream_key(settings: Settings) -> SecretStr | None:
    """What per-call stream tokens are keyed with: the Twilio auth token, else the server's
    access token; None when neither is set (the Twilio routes are then open)."""
    return settings.twilio.auth_token or settings.access_token


def _basic_password(request: Request) -> str | None:
    """The password of an `Authorization: Basic` header (Twilio's user:password@ URLs)."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return decoded.partition(":")[2]


def public_url(request: Request, settings: TwilioSettings) -> str:
    """The URL Twilio requested, as Twilio saw it (behind a tunnel, the public host)."""
    if settings.public_host is None:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"https://{settings.public_host}{request.url.path}{query}"


# --- the voice webhook -----------------------------------------------------------------------


@router.post("/twilio/voice")
async def voice_webhook(request: Request) -> Response:
    state = server_state(request)
    settings = state.settings.twilio
    needs_access = settings.auth_token is None and state.settings.access_token is not None
    if needs_access and not state.token_matches(_basic_password(request)):
        # The challenge is what makes Twilio send the user:token@ of the webhook URL.
        state.problems.note(
            "access token", log, "twilio webhook: refused a request without the access token"
        )
        return Response("unauthorized: the webhook URL needs the access token",
                        status_code=401, media_type="text/plain",
                        headers={"WWW-Authenticate": 'Basic realm="parley"'})  # fmt: skip
    try:
        form = await read_form(request, state.settings.http)
    except BodyRefusedError as exc:
        state.problems.note(exc.kind, log, "twilio webhook: refused %s", exc.reason)
        return Response(f"refused: {exc.reason}", status_code=exc.status, media_type="text/plain")
    if settings.auth_token is not None:
        signature = request.headers.get("X-Twilio-Signature")
        validator = RequestValidator(settings.auth_token.get_secret_value())
        if not signature or not validator.validate(public_url(request, settings), form, signature):
            problem = "no X-Twilio-Signature" if not signature else "a wrong X-Twilio-Signature"
            state.problems.note("signature", log, "twilio webhook: refused a request with %s",
                                problem)  # fmt: skip
            return Response(f"forbidden: {problem}", status_code=403, media_type="text/plain")
    call_sid = str(form.get("CallSid", ""))
    if CALL_SID.fullmatch(call_sid) is None:  # before it is logged or signed: 34 characters
        state.problems.note("call sid", log, "twilio webhook: refused a CallSid of %d characters "
                            "that is not a Twilio Call SID", len(call_sid))  # fmt: skip
        return Response("refused: CallSid is not a Twilio Call SID", status_code=400)
    call = field("call_sid", call_sid)
    twiml = VoiceResponse()
    if not state.loader.ready:
        log.warning("twilio call %s: refused, providers not ready", call)
        twiml.say("Sorry, the assistant is not ready yet. Please call again in a minute.")
        twiml.hangup()
        return Response(str(twiml), media_type="application/xml")
    busy = state.node_busy()  # the node's room: the stream may land on any worker
    if busy is not None:  # admission control: a busy signal now beats a call that stutters
        log.warning("twilio call %s: rejected (busy): %s", call, busy)
        twiml.reject(reason="busy")
        return Response(str(twiml), media_type="application/xml")
    host = settings.public_host or request.headers.get("host", request.url.netloc)
    connect = Connect()
    stream = connect.stream(url=f"wss://{host}/twilio/media")
    parameters = {"from": str(form.get("From", "")), "to": str(form.get("To", ""))}
    key = stream_key(state.settings)
    if key is not None:
        parameters[TOKEN_PARAMETER] = call_token(key, call_sid)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    twiml.append(connect)
    if state.settings.admission.max_sessions is not None:
        state.held.hold(call_sid)  # its place, until the stream starts (admission.py)
    log.info("twilio call %s: answered, streaming to wss://%s/twilio/media", call,
             field("host", host))  # fmt: skip
    return Response(str(twiml), media_type="application/xml")


# --- the media stream ------------------------------------------------------------------------


@router.websocket("/twilio/media")
async def media_stream(websocket: WebSocket) -> None:
    state = server_state(websocket)
    settings = state.settings.twilio
    await websocket.accept()
    transport = TwilioTransport(
        websocket,
        max_message_bytes=settings.max_message_bytes,
        hang_up=_rest_hangup(settings),
        transfer_call=_rest_transfer(settings),
    )
    try:
        call = await transport.wait_for_start(settings.start_timeout_s)
        _check_token(call, stream_key(state.settings))
        state.held.take(call.call_sid)  # the place its webhook held becomes the session
        session = state.new_session(
            transport, session_id=f"twilio-{call.call_sid}", call_facts=_call_facts(call)
        )
    except (StreamNotStartedError, ServerNotReadyError, SessionIdInUseError) as exc:
        reason = field("reason", exc)
        log.warning("twilio call %s: stream refused: %s", transport.call_field, reason)
        transport.stopped = True  # no session: nothing to hang up by REST
        await transport.aclose()
        return
    calls = twilio_calls(websocket.app)
    calls._started(call, session)
    try:
        await state.sessions.run(session)
    finally:
        calls._ended(call.call_sid)


def _call_facts(call: StreamStart) -> dict[str, str]:
    """What the call records keep of a Twilio call: its SID, and From and To as the webhook
    passed them on (bounded: they came through the stream's parameters)."""
    parameters = call.custom_parameters
    return {
        "twilio_call_sid": call.call_sid,
        "twilio_from": parameters.get("from", "")[:64],
        "twilio_to": parameters.get("to", "")[:64],
    }


def _check_token(call: StreamStart, key: SecretStr | None) -> None:
    if key is None:
        return
    presented = call.custom_parameters.get(TOKEN_PARAMETER, "")
    expected = call_token(key, call.call_sid)
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise StreamNotStartedError(f"missing or wrong `{TOKEN_PARAMETER}` parameter")


def _rest(settings: TwilioSettings) -> TwilioRest | None:
    """Twilio's REST API, when credentials are configured."""
    if settings.account_sid is None or settings.auth_token is None:
        return None
    return TwilioRest(
        settings.account_sid,
        settings.auth_token,
        base_url=settings.api_base_url,
        timeout=settings.rest_timeout_s,
    )


def _rest_transfer(settings: TwilioSettings) -> TransferCall | None:
    """The REST transfer for the `transfer_call` tool (raises: the session reports it)."""
    rest = _rest(settings)
    if rest is None:
        return None

    async def transfer(call_sid: str, target: str) -> None:
        await rest.transfer(call_sid, target)
        log.info("twilio call %s: transferred by REST", field("call_sid", call_sid))

    return transfer


def _rest_hangup(settings: TwilioSettings) -> HangUpCall | None:
    """The REST hangup for calls the server ends, when credentials are configured."""
    rest = _rest(settings)
    if rest is None:
        return None

    async def hang_up(call_sid: str) -> None:
        try:
            outcome = await rest.hang_up(call_sid)
        except (TwilioRestError, ValueError) as exc:
            log.error("twilio call %s: REST hangup failed: %s", field("call_sid", call_sid), exc)
        else:
            log.info("twilio call %s: hung up by REST (%s)", field("call_sid", call_sid), outcome)

    return hang_up
