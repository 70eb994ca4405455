#!/usr/bin/env bash
# Installs Debian packages for the setup scripts:
#   apt-install.sh [--no-install-recommends] WHO TILL-THEN PACKAGE...
# WHO names the calling script in messages; TILL-THEN says what does not work until the
# packages are there (said when this user can install nothing). Callers pass only what is
# missing, so a machine that has everything never gets here and runs no apt-get at all.
#
# The package lists are refreshed at most once per `make setup`: the Makefile names a stamp
# file in PARLEY_APT_UPDATED, and the first script that installs anything refreshes the lists
# and makes it. Run without it (a script by hand), the lists are refreshed before installing.
set -euo pipefail

options=()
if [ "${1:-}" = --no-install-recommends ]; then
    options+=("$1")
    shift
fi
who=$1 till_then=$2
shift 2
[ $# -gt 0 ] || exit 0

if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "$who: $* missing and this user cannot install them;" >&2
    echo "  run: apt-get install -y $* (till then $till_then)" >&2
    exit 0
fi
sudo=$([ "$(id -u)" -eq 0 ] || echo sudo)
echo "$who: installing from Debian: $*"
stamp=${PARLEY_APT_UPDATED:-}
if [ -z "$stamp" ] || [ ! -e "$stamp" ]; then
    $sudo apt-get update -qq
    if [ -n "$stamp" ]; then
        touch "$stamp"
    fi
fi
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${options[@]}" "$@" >/dev/null
