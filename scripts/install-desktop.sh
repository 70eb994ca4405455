#!/usr/bin/env bash
# Installs what `parley talk` on this computer's microphone and speakers needs, once per machine:
#   - Debian's libportaudio2, the PortAudio library `sounddevice` loads, and libasound2-plugins
#     (ALSA's pulse plugin, PortAudio's way to PulseAudio and PipeWire's pulse server);
#   - Debian's pulseaudio and pulseaudio-utils, which the real-device tests start in user mode
#     with a null sink and a virtual source (tests/desktop/pulse.py).
# Idempotent: skipped when both are there.
set -euo pipefail

missing=()
ldconfig -p 2>/dev/null | grep -q 'libportaudio\.so\.2' || missing+=(libportaudio2)
# PortAudio reaches PulseAudio through ALSA's pulse plugin.
[ -e /usr/share/alsa/alsa.conf.d/pulse.conf ] || missing+=(libasound2-plugins)
command -v pulseaudio >/dev/null || missing+=(pulseaudio)
command -v pactl >/dev/null && command -v pacat >/dev/null || missing+=(pulseaudio-utils)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "install-desktop: ${missing[*]} missing and this user cannot install them;" >&2
    echo "  run: apt-get install -y ${missing[*]} (till then the desktop device tests skip)" >&2
    exit 0
fi
sudo=$([ "$(id -u)" -eq 0 ] || echo sudo)
echo "Installing ${missing[*]} from Debian"
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
