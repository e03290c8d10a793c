"""The far end of an emulated serial device: a pty behind a stable path.

The host opens the path as it would open ``/dev/ttyUSB0``. Unplugging closes the pty so
the host's reads fail; plugging back makes a new pty under the same path, as a udev
``by-id`` link does for a USB-serial adapter.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty
from collections.abc import Callable
from pathlib import Path

Answer = Callable[[bytes], bytes]


class PtyPort:
    """Reads what the host writes, hands it to ``answer``, and writes back what it returns."""

    def __init__(
        self, link: Path, answer: Answer, *, delay_s: Callable[[], float] = lambda: 0.0
    ) -> None:
        self.link = link
        self.answer = answer
        self.delay_s = delay_s  # a slow device: wait this long before answering
        self._master: int | None = None
        self._slave: int | None = None
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self._write_lock = threading.Lock()

    @property
    def plugged(self) -> bool:
        """Whether the port is there."""
        return self._master is not None

    def plug(self) -> str:
        """Plug the device in: a new pty appears under ``link``; returns the path."""
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        # The slave end stays open here too, so the host's reads never hit EIO between opens.
        self._master, self._slave = master, slave
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        self.link.symlink_to(os.ttyname(slave))
        stop = threading.Event()
        self._stop = stop
        self._thread = threading.Thread(
            target=self._loop, args=(master, stop), name=f"pty-{self.link.name}", daemon=True
        )
        self._thread.start()
        return str(self.link)

    def unplug(self) -> None:
        """Pull the cable: the path disappears and the host's reads and writes fail."""
        if self._stop is not None:
            self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._thread = None
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        with self._write_lock:
            for fd in (self._master, self._slave):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master = self._slave = None

    def write(self, data: bytes) -> bool:
        """Send bytes to the host unprompted; False if the port is unplugged."""
        with self._write_lock:
            if self._master is None:
                return False
            try:
                os.write(self._master, data)
            except OSError:
                return False
            return True

    def _loop(self, master: int, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(master, 65536)
            except OSError:
                return
            reply = self.answer(data)
            if reply and not stop.wait(self.delay_s()):
                self.write(reply)
