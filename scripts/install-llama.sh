#!/usr/bin/env bash
# Installs llama-cpp-python into the venv given as $1, showing the source build's progress.
# The package is an sdist: pip compiles llama.cpp (6-9 minutes on 2 cores). pip keeps the
# built wheel in its cache, so later installs on the same machine take seconds.
set -euo pipefail
venv="$1"
spec="${2:-llama-cpp-python>=0.3.7}"
if "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
    exit 0
fi
log="$venv/llama-cpp-build.log"
echo "Installing llama-cpp-python (a first install on a machine compiles llama.cpp: 6-9 min)"
echo "  full build log: $log"
set +e
"$venv/bin/python" -m pip install -v "$spec" 2>&1 | tee "$log" | awk '
    /\[[0-9]+\/[0-9]+\]/ {
        match($0, /\[[0-9]+\/[0-9]+\]/)
        step = substr($0, RSTART + 1, RLENGTH - 2)
        split(step, part, "/")
        now = part[1] * 100 / part[2]
        if (now >= shown + 5 || part[1] == part[2]) {
            printf "  compiling llama.cpp: %3d%% (%s)\n", now, step
            fflush()
            shown = now
        }
    }
    /Using cached llama_cpp_python|Successfully installed/ { print "  " $0; fflush() }
'
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
    echo "llama-cpp-python failed to install; the last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit "$status"
fi
