#!/usr/bin/env bash
# Installs what `parley talk` on this computer's microphone and speakers needs, once per machine:
#   - Debian's libportaudio2, the PortAudio library `sounddevice` loads, and libasound2-plugins
#     (ALSA's pulse plugin, PortAudio's way to PulseAudio and PipeWire's pulse server);
#   - Debian's pulseaudio and pulseaudio-utils, which the real-device tests start in user mode
#     with a null sink and a virtual source (tests/desktop/pulse.py).
# Idempotent: only what is missing is installed (scripts/apt-install.sh).
set -euo pipefail

missing=()
ldconfig -p 2>/dev/null | grep -q 'libportaudio\.so\.2' || missing+=(libportaudio2)
# PortAudio reaches PulseAudio through ALSA's pulse plugin.
[ -e /usr/share/alsa/alsa.conf.d/pulse.conf ] || missing+=(libasound2-plugins)
command -v pulseaudio >/dev/null || missing+=(pulseaudio)
command -v pactl >/dev/null && command -v pacat >/dev/null || missing+=(pulseaudio-utils)
[ ${#missing[@]} -eq 0 ] && exit 0

bash "$(dirname "$0")/apt-install.sh" --no-install-recommends install-desktop \
    "the desktop device tests skip" "${missing[@]}"
