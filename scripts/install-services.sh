#!/usr/bin/env bash
# Installs the services the tests run for real, once per machine:
#   - Debian's PostgreSQL server: the call-records store's tests start their own throwaway
#     server from its binaries (/usr/lib/postgresql/<version>/bin) in a temporary directory
#     (tests/records/postgres.py); nothing is configured or started system-wide.
#   - Debian's redis-server and nginx: the many-nodes tests (tests/cluster/services.py) start
#     their own on free ports in temporary directories; the system services are not used.
# Idempotent: only what is missing is installed.
set -euo pipefail

missing=()
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "install-services: ${missing[*]} missing and this user cannot install them;" >&2
    echo "  run: apt-get install -y ${missing[*]} (till then the tests that need them fail)" >&2
    exit 0
fi
sudo=$([ "$(id -u)" -eq 0 ] || echo sudo)
echo "Installing from Debian: ${missing[*]}"
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
