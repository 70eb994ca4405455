"""An OpenAI Realtime API-compatible endpoint, `WS /v1/realtime`, backed by parley's cascade.

The package translates the Realtime protocol (both the GA shape and the beta one) at the edge
(invariant 9): `parley.server.routes.realtime` admits the connection, `transport` turns
client events into session calls and inbound audio, and session events into server events.
docs/realtime.md lists what is supported.
"""
