"""Running the scheduler as a real process, for crash tests and the benchmark."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from hallbus.hall_file import HallConfig
from hallbus.settings import BusSettings
from simulator.mailbox import Mailbox


def write_hall_file(hall: HallConfig, path: Path) -> Path:
    """Write a hall configuration as YAML, for ``paidui scheduler --hall``."""
    path.write_text(yaml.safe_dump(hall.model_dump(mode="json"), allow_unicode=True))
    return path


class SchedulerProcess:
    """``paidui scheduler`` in its own process, which can be killed and started again."""

    def __init__(
        self,
        hall_file: Path,
        db_url: str,
        bus: BusSettings,
        *,
        log_level: str = "WARNING",
        wrapper: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        # ``wrapper`` runs it under another program, e.g. faketime with a shifted clock.
        self.env = {**os.environ, **env} if env else None
        self.args = [
            *wrapper,
            sys.executable, "-m", "paidui", "--log-level", log_level, "scheduler",
            "--hall", str(hall_file), "--db", db_url,
            "--rating-key", str(hall_file.with_suffix(".rating.key")),
            "--mqtt-port", str(bus.port), "--mqtt-protocol", bus.protocol,
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        # Its JSON log records, as they come (tests wait on "active" and "standby").
        self.log: Mailbox[dict[str, Any]] = Mailbox()

    def start(self) -> None:
        """Start the process (it announces itself online on the bus)."""
        # Its own process group: a wrapper (faketime) forks the scheduler as its child, and
        # a signal to the wrapper alone would leave the scheduler running after the test.
        self.process = subprocess.Popen(
            self.args, stderr=subprocess.PIPE, env=self.env, start_new_session=True
        )
        threading.Thread(target=self._read_log, args=(self.process,), daemon=True).start()

    def _read_log(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            try:
                self.log.put(json.loads(line))
            except ValueError:
                self.log.put({"msg": line.decode(errors="replace").rstrip()})

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL: no clean shutdown, as in a crash or power cut of the process."""
        assert self.process is not None
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM and wait, if it is still running."""
        if self.process is not None and self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            self.process.wait(timeout)

    def _signal_group(self, sent: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):  # gone already
            os.killpg(self.process.pid, sent)
