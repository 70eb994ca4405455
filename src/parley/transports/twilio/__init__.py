"""Telephone calls over Twilio Media Streams: wire models, transport, stream token and REST
hangup. The fake caller that speaks the protocol lives in parley.testing.twilio_caller.

Import the modules themselves (`parley.transports.twilio.transport`, `.messages`): this
package imports nothing, so the fake caller does not pull in the server or the twilio SDK.
"""
