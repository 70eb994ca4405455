#!/usr/bin/env bash
# Installs what the browser client and its tests need, once per machine:
#   - Debian's Chromium and chromedriver (the end-to-end tests drive the real browser);
#   - the web client's npm packages (Silero VAD for the page and the onnxruntime-web it runs
#     on), which parley serves itself: the page never loads anything from a CDN.
# Idempotent: each step is skipped when what it installs is already there (Debian packages:
# scripts/apt-install.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
web=src/parley/web

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
    bash scripts/apt-install.sh install-browser "browser tests skip" "${missing[@]}"
    if command -v chromium >/dev/null; then
        chromium --version
    fi
fi

if ! command -v npm >/dev/null; then
    echo "install-browser: npm is missing; run: apt-get install -y npm" >&2
    exit 1
fi
stamp="$web/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$web/package-lock.json" -nt "$stamp" ]; then
    echo "Installing the web client's npm packages (Silero VAD, onnxruntime-web)"
    npm ci --prefix "$web" --ignore-scripts --no-audit --no-fund --loglevel=error
fi
