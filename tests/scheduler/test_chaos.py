"""``paidui chaos`` in the suite: every clerk action while the scheduler and broker die.

A bounded run (about 40 s each) on SQLite, where the scheduler process is SIGKILLed and
started again, and on PostgreSQL, where the active scheduler is killed and the standby
takes over. The broker is SIGKILLed in between: mosquitto forgets what it had not yet
saved, and the witness's replays must make up for it. Every count must be 0.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

SECONDS = 40


def _chaos(*extra: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "paidui", "chaos", "--seconds", str(SECONDS), *extra],
        capture_output=True,
        text=True,
        timeout=SECONDS + 150,
    )
    assert done.stdout, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout)
    assert done.returncode == (1 if any(result["must_be_zero"].values()) else 0)  # type: ignore[attr-defined]
    return result


def _every_action_ran(result: dict[str, object]) -> None:
    actions = result["traffic"]["actions"]  # type: ignore[index]
    for action in (
        "issue", "check_in", "book", "cancel", "call_next", "recall", "postpone",
        "transfer_service", "transfer_window", "no_show", "pause", "resume", "logout",
        "login", "start", "finish", "rate",
    ):  # fmt: skip
        assert actions.get(f"{action}:ok", 0) > 0, (action, actions)


def test_chaos_on_sqlite_loses_doubles_and_misses_nothing() -> None:
    result = _chaos()
    assert result["must_be_zero"] == dict.fromkeys(result["must_be_zero"], 0), result  # type: ignore[arg-type]
    kills = result["kills"]
    assert kills.get("scheduler", 0) >= 2 and kills.get("broker", 0) >= 2, kills  # type: ignore[attr-defined]
    _every_action_ran(result)


def test_chaos_on_postgresql_with_standby_takeovers(postgres_url: str) -> None:
    result = _chaos("--db", postgres_url)
    assert result["must_be_zero"] == dict.fromkeys(result["must_be_zero"], 0), result  # type: ignore[arg-type]
    kills = result["kills"]
    assert kills.get("standby_takeover", 0) >= 2 and kills.get("broker", 0) >= 2, kills  # type: ignore[attr-defined]
    assert "active_killed_no_takeover" not in kills  # type: ignore[operator]
    _every_action_ran(result)
