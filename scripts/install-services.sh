#!/usr/bin/env bash
# Installs the services the tests run for real, once per machine:
#   - Debian's PostgreSQL server: the call-records store's tests start their own throwaway
#     server from its binaries (/usr/lib/postgresql/<version>/bin) in a temporary directory
#     (tests/records/postgres.py); nothing is configured or started system-wide.
#   - Debian's redis-server and nginx: the many-nodes tests (tests/cluster/services.py) start
#     their own on free ports in temporary directories; the system services are not used.
# Idempotent: only what is missing is installed (scripts/apt-install.sh).
set -euo pipefail

missing=()
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ ${#missing[@]} -eq 0 ] && exit 0

bash "$(dirname "$0")/apt-install.sh" install-services "the tests that need them fail" \
    "${missing[@]}"
