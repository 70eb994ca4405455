"""Cloud providers: adapters of parley's provider interfaces to hosted services.

Each module speaks one provider's documented wire protocol (see docs/providers.md):
Deepgram live STT, OpenAI-compatible chat streaming, ElevenLabs multi-context TTS, and
OpenAI Realtime as a speech-to-speech provider. They are chosen by name through the registry
and imported only when chosen, so their client libraries load only for those who use them.
"""
