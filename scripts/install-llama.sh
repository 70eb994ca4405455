#!/usr/bin/env bash
# Installs llama-cpp-python into the venv given as $1 from a portable build of llama.cpp.
#
# The package is an sdist: pip compiles llama.cpp (6-9 minutes on 2 cores). Its default build
# uses -march=native, which crashed on a CPU other than the one it was tuned for (docs/embedded.md),
# and pip's cache then hands that binary to every later install. So this script:
#   - builds with fixed, portable flags (GGML_NATIVE=OFF and an explicit instruction-set
#     baseline per architecture), never native ones;
#   - builds with pip's cache off, into a wheel folder of parley's own whose name is the
#     version, the architecture, the Python tag and a hash of the flags, so a wheel is only
#     reused for exactly the build it was made by;
#   - records the build key in the venv, and rebuilds when an installed llama_cpp lacks it.
# PARLEY_LLAMA_BUILD=dispatch builds every CPU variant with runtime dispatch instead (measured
# against the baseline in docs/embedded.md); the default is the fixed baseline.
set -euo pipefail
venv="$1"
version="${PARLEY_LLAMA_VERSION:-0.3.36}"
variant="${PARLEY_LLAMA_BUILD:-baseline}"
arch="$(uname -m)"

case "$variant:$arch" in
    baseline:x86_64 | baseline:amd64)
        # Every x86-64 CPU since Haswell / Zen 1: AVX2, FMA, F16C, BMI2; no AVX-512 or AMX.
        cmake_args="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
        cmake_args+=" -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF"
        cmake_args+=" -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AVX_VNNI=OFF"
        cmake_args+=" -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
        ;;
    baseline:aarch64 | baseline:arm64)
        # Plain ARMv8-A (NEON): every 64-bit ARM server and board.
        cmake_args="-DGGML_NATIVE=OFF -DGGML_CPU_ARM_ARCH=armv8-a"
        ;;
    dispatch:*)
        # One library per CPU generation, the best one picked when the process starts.
        cmake_args="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON"
        ;;
    *)
        echo "install-llama: no portable build for variant '$variant' on '$arch'" >&2
        exit 2
        ;;
esac
# Other build options (BLAS, GPU) may be added through CMAKE_ARGS; native flags are refused.
if [[ "${CMAKE_ARGS:-}" == *"GGML_NATIVE=ON"* || "${CMAKE_ARGS:-}" == *"march=native"* ]]; then
    echo "install-llama: CMAKE_ARGS asks for a native build, which is not portable" >&2
    exit 2
fi
cmake_args="$cmake_args ${CMAKE_ARGS:-}"
cmake_args="${cmake_args% }"

py_tag="$("$venv/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
flags_hash="$(printf '%s' "$cmake_args" | sha256sum | cut -c1-12)"
key="llama-cpp-python-$version-$arch-$py_tag-$flags_hash"
marker="$venv/.llama-build"
wheels="${PARLEY_WHEEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/parley/wheels}/$key"

if [ -f "$marker" ] && [ "$(cat "$marker")" = "$key" ] \
    && "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
    exit 0
fi

wheel="$(ls "$wheels"/llama_cpp_python-*.whl 2>/dev/null | head -n1 || true)"
if [ -z "$wheel" ]; then
    mkdir -p "$wheels"
    log="$wheels/build.log"
    echo "Building llama.cpp $version for $arch, portable ($variant): 6-9 min on 2 cores"
    echo "  flags: $cmake_args"
    echo "  full build log: $log"
    started=$(date +%s)
    set +e
    CMAKE_ARGS="$cmake_args" FORCE_CMAKE=1 "$venv/bin/python" -m pip wheel -v --no-cache-dir \
        --no-deps --no-binary llama-cpp-python -w "$wheels.tmp" "llama-cpp-python==$version" \
        2>&1 | tee "$log" | awk '
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
    '
    status=${PIPESTATUS[0]}
    set -e
    if [ "$status" -ne 0 ]; then
        echo "llama-cpp-python failed to build; the last lines of $log:" >&2
        tail -n 30 "$log" >&2
        rm -rf "$wheels.tmp"
        exit "$status"
    fi
    mv "$wheels.tmp"/llama_cpp_python-*.whl "$wheels"/
    rm -rf "$wheels.tmp"
    echo "$cmake_args" >"$wheels/cmake-args.txt"
    echo "  built in $(($(date +%s) - started)) s"
    wheel="$(ls "$wheels"/llama_cpp_python-*.whl | head -n1)"
fi
echo "Installing $(basename "$wheel")"
"$venv/bin/python" -m pip uninstall --quiet --yes llama-cpp-python 2>/dev/null || true
"$venv/bin/python" -m pip install --quiet --no-cache-dir "$wheel"
echo "$key" >"$marker"
echo "$cmake_args" >"$venv/.llama-cmake-args"
