"""Embedded providers: a complete voice agent offline on a laptop CPU.

Silero VAD (onnxruntime, in the session process), Whisper STT (faster-whisper), SmolLM2 via
llama.cpp and Piper TTS (these three in the model process, model_host/). Model libraries are
imported only where a model is built: Silero's by the registry, the others' in the child.
"""
