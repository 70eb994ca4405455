"""Embedded providers: a complete voice agent offline on a laptop CPU.

Silero VAD (onnxruntime), Whisper STT (faster-whisper), SmolLM2 via llama.cpp, Piper TTS.
Each module imports its model library only when built, through the provider registry.
"""
