#!/usr/bin/env bash
# Installs the services the tests run for real, once per machine:
#   - Debian's PostgreSQL server: the call-records store's tests start their own throwaway
#     server from its binaries (/usr/lib/postgresql/<version>/bin) in a temporary directory
#     (tests/records/postgres.py); nothing is configured or started system-wide.
# Idempotent: skipped when the server binaries are already there.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "install-services: PostgreSQL is missing and this user cannot install it;" >&2
    echo "  run: apt-get install -y postgresql (till then the PostgreSQL tests fail)" >&2
    exit 0
fi
sudo=$([ "$(id -u)" -eq 0 ] || echo sudo)
echo "Installing PostgreSQL from Debian"
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
ls /usr/lib/postgresql/
