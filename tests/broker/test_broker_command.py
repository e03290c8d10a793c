"""``paidui broker`` as an operator runs it: every listener where the command line says."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from hallbus.client import BusClient
from hallbus.hall_file import DEMO_HALL_FILE, load_hall
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics
from paidui.acl import render_acl
from paidui.broker import free_port
from paidui.credentials import BrokerFolder
from tests.conftest import WAIT

pytestmark = pytest.mark.slow


def test_production_broker_takes_both_its_ports_from_the_command_line(tmp_path: Path) -> None:
    hall = load_hall(DEMO_HALL_FILE).model_copy(update={"id": "ports"})
    topics = HallTopics(hall.id)
    folder = BrokerFolder(tmp_path / "broker")
    now = dt.datetime.now(dt.UTC)
    assert folder.init(hall.id, ["127.0.0.1"], now=now)
    scheduler = folder.provision(topics.scheduler_identity(), hall.id, tmp_path / "b", now=now)
    folder.acl.write_text(render_acl([hall]))
    tls, local = free_port(), free_port()
    command = [
        sys.executable, "-m", "paidui.cli", "--log-level", "INFO", "broker",
        "--config", "production", "--port", str(tls), "--local-port", str(local),
        "--broker-dir", str(folder.folder), "--data", str(tmp_path / "data"),
    ]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        for line in process.stderr:  # each line is a JSON log record; ends if it exits
            if "mosquitto running" in line:
                break
        else:
            pytest.fail(f"the broker exited with {process.wait(WAIT)}")
        rendered = (tmp_path / "data" / "mosquitto.conf").read_text().splitlines()
        listeners = [line for line in rendered if line.startswith("listener")]
        assert listeners == [f"listener {tls}", f"listener {local} 127.0.0.1"]
        # The scheduler logs in on the loopback port it was given.
        settings = BusSettings(
            port=local,
            username=scheduler.identity,
            password=SecretStr(scheduler.password),
        )
        client = BusClient(settings, scheduler.identity, topics.scheduler_availability())
        client.start(timeout=WAIT)
        client.stop()
    finally:
        process.terminate()
        process.wait(WAIT)


def test_a_bad_port_in_the_environment_is_a_usage_error(tmp_path: Path) -> None:
    env = {**os.environ, "PAIDUI_MQTT_PORT": "eighty"}
    done = subprocess.run(
        [sys.executable, "-m", "paidui.cli", "scheduler", "--hall", str(DEMO_HALL_FILE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "'eighty' is not a port" in done.stderr and "Traceback" not in done.stderr
