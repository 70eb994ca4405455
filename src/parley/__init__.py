"""parley: a real-time voice conversation server with human turn-taking."""

__version__ = "0.1.0"
