"""Audio primitives: frames, resampling and codecs."""

from parley.audio.frames import AudioFormatError, AudioFrame, bytes_for, rms_dbfs
from parley.audio.resample import StreamResampler, resample

__all__ = ["AudioFormatError", "AudioFrame", "StreamResampler", "bytes_for", "resample", "rms_dbfs"]
