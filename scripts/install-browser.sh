#!/usr/bin/env bash
# Installs what the browser client and its tests need, once per machine:
#   - Debian's Chromium and chromedriver (the end-to-end tests drive the real browser);
#   - the web client's npm packages (Silero VAD for the page and the onnxruntime-web it runs
#     on), which parley serves itself: the page never loads anything from a CDN.
# Idempotent: each step is skipped when what it installs is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
web=src/parley/web

if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    :
elif [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "install-browser: chromium is missing and this user cannot install it;" >&2
    echo "  run: apt-get install -y chromium chromium-driver (till then browser tests skip)" >&2
else
    sudo=$([ "$(id -u)" -eq 0 ] || echo sudo)
    echo "Installing Chromium and chromedriver from Debian"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    chromium --version
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
