"""`parley bench`: parley's latencies and capacity over Twilio Media Streams, with Pipecat
measured in the same run, on the same machine, with the same fake providers and audio.

The harness lives in the package (not in `bench/`) so that `parley bench` works from any
install; `bench/results/` in the checkout is where it writes its reports. Each server runs in
a process of its own (`parley_server`, `pipecat_server`), started by the harness with a spec
file; simulated callers (`caller`) drive them over loopback. See docs/benchmarks.md.
"""
