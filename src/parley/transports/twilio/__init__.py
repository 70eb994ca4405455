"""Telephone calls over Twilio Media Streams: wire models, transport, stream token, REST
hangup, and a fake caller that speaks the protocol (for tests, benchmarks and `parley call`).

Import the modules themselves (`parley.transports.twilio.transport`, `.fake_caller`): this
package imports nothing, so the fake caller does not pull in the server or the twilio SDK.
"""
