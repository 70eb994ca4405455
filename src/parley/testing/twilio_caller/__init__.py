"""A fake phone caller that speaks Twilio Media Streams, for tests, benchmarks and `parley call`.

Import the modules themselves (`.fake_caller`, `.call_command`): this package imports
nothing, so the caller does not pull in the server or the twilio SDK.
"""
