"""`parley talk` (live) and `parley devices`: the command-line side of the desktop call."""

from __future__ import annotations

import argparse
import asyncio

from rich.console import Console
from rich.table import Table

from parley.desktop.app import DesktopApp
from parley.desktop.devices import DeviceError, PortAudioDevices
from parley.desktop.keys import TerminalKeys
from parley.settings import Settings


def device_choice(value: str | None) -> int | str | None:
    """A device flag: an index if it is a number, else (part of) a name."""
    if value is None:
        return None
    return int(value) if value.isdigit() else value


def list_devices(console: Console) -> int:
    try:
        devices = PortAudioDevices().list()
    except DeviceError as exc:
        console.print(f"[red]{exc}[/]")
        return 1
    table = Table("index", "name", "in", "out", "rate", "default", title="audio devices")
    for d in devices:
        default = " ".join(
            k for k, on in (("in", d.default_input), ("out", d.default_output)) if on
        )
        table.add_row(
            str(d.index), d.name, str(d.inputs), str(d.outputs), str(d.default_rate), default
        )
    console.print(table)
    if not devices:
        console.print("No audio devices: is a sound server (PulseAudio, PipeWire) running?")
    return 0


def run_live(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    try:
        devices = PortAudioDevices()
    except DeviceError as exc:
        console.print(f"[red]{exc}[/]")
        return 1
    app = DesktopApp(
        settings,
        devices,
        input_device=device_choice(args.input_device),
        output_device=device_choice(args.output_device),
        record=args.record,
        cancel_echo=not args.no_echo_cancel,
        console=console,
    )

    async def main() -> int:
        with TerminalKeys(app.press):
            return await app.run()

    status = asyncio.run(main())
    for path in app.recordings:
        console.print(f"[dim]call recorded to {path}[/]")
    return status
