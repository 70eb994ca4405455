"""What only drives a server, grouped apart from what a server runs.

Nothing a deployed server serves lives here. `fakes/` are the scripted VAD, STT, LLM and TTS
(the registry's "fake" and "energy" names load them, for demos, load tests and benchmarks);
`memory_transport` is an in-memory transport with a scripted caller and a simulated listener
(`parley demo`, `parley talk`, tests); `twilio_caller/` plays a phone caller over Twilio Media
Streams against a running server (`parley call`, tests, benchmarks). `parley.benchmarks`
(`parley bench`) likewise only drives servers; it stays a package of its own.

This package imports nothing, so importing one part does not load the others.
"""
