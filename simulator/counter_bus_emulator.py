"""An RS-485 line of caller keypads and raters on the far end of a pty.

Each emulated device has an address and a profile. A key press sends the profile's key
frame and, like the real device, waits for the host's echo and sends the frame again
when none comes. Frames from the host (screen text, a rater's prompt, polls) are echoed
and their content kept, so tests and the demo can read what each screen shows. Faults:
silent devices, echoes lost on the way back, noise, corrupt frames, an unplugged adapter.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from counter_terminal.bus_protocol import BusDecoder, BusFrame, encode_frame
from counter_terminal.drivers import keypad_driver
from counter_terminal.keys import ClerkKey
from counter_terminal.profile import BusFamily, BusKeypadBase, BusRaterProfile, bus_family
from simulator.mailbox import Mailbox
from simulator.pty_port import PtyPort

ECHO_WAIT_S = 0.3  # a device waits this long for the host's echo before sending again
SENDS = 4  # a press is sent at most this often


@dataclass(frozen=True, slots=True)
class Shown:
    """What a device's screen or lights showed after a host frame."""

    address: int
    lines: tuple[str, ...] = ()
    prompt: int | None = None  # a rater's prompt state


@dataclass
class BusFaults:
    """What goes wrong on the emulated line."""

    silent: set[int] = field(default_factory=set)  # addresses that answer nothing
    lost_echoes: int = 0  # the next N echoes from the host never reach the device
    noise: bytes = b""  # sent on the line before the next device frame
    corrupt_next: bool = False  # the next device frame goes out with a bad checksum


@dataclass
class _Device:
    address: int
    profile: BusKeypadBase | BusRaterProfile
    lines: tuple[str, ...] = ()
    prompt: int | None = None
    sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    awaiting: BusFrame | None = None
    echoed: threading.Event = field(default_factory=threading.Event)
    press_lock: threading.Lock = field(default_factory=threading.Lock)


class CounterBusEmulator:
    """Keypads and raters sharing one emulated line."""

    def __init__(self, family: BusFamily) -> None:
        self.family = family
        self.faults = BusFaults()
        self.shown: Mailbox[Shown] = Mailbox()
        # Called (on the port's thread) with each change a device shows; must not block.
        self.listeners: list[Callable[[Shown], None]] = []
        self._devices: dict[int, _Device] = {}
        self._decoder = BusDecoder(family.framing)
        self._lock = threading.Lock()
        self._port: PtyPort | None = None

    # --- the devices --------------------------------------------------------------------
    def add(self, address: int, profile: BusKeypadBase | BusRaterProfile) -> None:
        """Put a keypad or rater on the line at ``address``."""
        if bus_family(profile) != self.family:
            raise ValueError(f"{profile.id} speaks another bus than this line")
        self._devices[address] = _Device(address, profile)

    def press(self, address: int, key: ClerkKey, number: str = "") -> bool:
        """A clerk presses ``key`` (digits typed first); True once the host echoed it."""
        device = self._devices[address]
        profile = device.profile
        if not isinstance(profile, BusKeypadBase):
            raise TypeError(f"address {address} is a rater")
        sent = True
        for payload in keypad_driver(profile).encode(profile, key, number):
            sent = sent and self._send_key(device, payload)
        return sent

    def press_button(self, address: int, button: int) -> bool:
        """A citizen presses a rater's button 1..5; True once the host echoed it."""
        device = self._devices[address]
        profile = device.profile
        if not isinstance(profile, BusRaterProfile):
            raise TypeError(f"address {address} is a keypad")
        codes = [code for code, b in profile.buttons.items() if b == button]
        return self._send_key(device, bytes((codes[0],)))

    def _send_key(self, device: _Device, payload: bytes) -> bool:
        with device.press_lock:  # a device sends one press at a time
            data = payload
            if self.family.sequence_byte:
                data = bytes((next(device.sequence) & 0xFF,)) + payload
            frames = device.profile.key_frames
            function = self.family.functions.key if frames.function is None else frames.function
            frame = BusFrame(device.address, function, data)
            device.echoed.clear()
            # What the host must send back: the frame itself, or with the echo function.
            echo = function if frames.echo_function is None else frames.echo_function
            device.awaiting = BusFrame(device.address, echo, data)
            try:
                for _ in range(SENDS):
                    self._transmit(frame)
                    if device.echoed.wait(ECHO_WAIT_S):
                        return True
                return False
            finally:
                device.awaiting = None

    def _transmit(self, frame: BusFrame) -> None:
        wire = encode_frame(frame, self.family.framing)
        with self._lock:
            if self.faults.corrupt_next:
                self.faults.corrupt_next = False
                wire = wire[:-2] + bytes(((wire[-2] + 1) & 0xFF,)) + wire[-1:]
            noise, self.faults.noise = self.faults.noise, b""
        if self._port is not None:
            self._port.write(noise + wire)

    # --- what the host sends ------------------------------------------------------------
    def receive(self, data: bytes) -> bytes:
        """Take the host's bytes; return the devices' echoes."""
        out = bytearray()
        with self._lock:
            items = self._decoder.feed(data)
        for item in items:
            if not isinstance(item, BusFrame):
                continue
            device = self._devices.get(item.address)
            if device is None or item.address in self.faults.silent:
                continue
            if device.awaiting is not None and item == device.awaiting:
                with self._lock:
                    lost = self.faults.lost_echoes > 0
                    self.faults.lost_echoes -= int(lost)
                if not lost:
                    device.echoed.set()
                continue
            self._apply(device, item)
            out += encode_frame(item, self.family.framing)
        return bytes(out)

    def _apply(self, device: _Device, frame: BusFrame) -> None:
        functions = self.family.functions
        display = device.profile.display
        if frame.function == functions.display and display is not None:
            text = frame.data.decode(display.encoding, errors="replace")
            device.lines = tuple(text.split("\n"))
        elif frame.function == functions.prompt and frame.data:
            device.prompt = frame.data[0]
        else:
            return
        shown = Shown(device.address, lines=device.lines, prompt=device.prompt)
        self.shown.put(shown)
        for listener in self.listeners:
            listener(shown)

    # --- the port -----------------------------------------------------------------------
    def serve_pty(self, link: Path) -> str:
        """Put the line behind a new pty reached through ``link``; returns the path."""
        self._port = PtyPort(link, self.receive)
        return self._port.plug()

    def plug(self) -> None:
        """Plug the adapter back in under the same path."""
        if self._port is None:
            raise RuntimeError("serve_pty first")
        with self._lock:
            self._decoder = BusDecoder(self.family.framing)
        self._port.plug()

    def unplug(self) -> None:
        """Pull the adapter out."""
        if self._port is not None:
            self._port.unplug()

    def stop(self) -> None:
        """Close the port."""
        self.unplug()
