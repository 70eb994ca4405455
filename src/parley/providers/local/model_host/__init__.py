"""The model process: Whisper, llama.cpp and Piper run in a child process (DESIGN.md
invariant 12), so a crash in native model code costs a turn, not every call on the server.

`wire.py` frames the channel, `child.py` is the process, `engines.py` the models as it runs
them, `client.py` starts, feeds and restarts it, `remote.py` is what the providers use.
"""
