"""Accounts, sessions, the audit log and configuration versions on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from hallbus.hall_file import DEMO_HALL_FILE, load_hall
from scheduler.store import Store
from scheduler.web.accounts import AccountError, AccountStore, Role

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def test_accounts_sessions_and_audit_on_each_backend(any_db_url: str) -> None:
    hall = f"h-{uuid.uuid4().hex[:8]}"
    store = Store(any_db_url, hall)
    store.open()
    try:
        accounts = AccountStore(store, hall, session_lifetime=timedelta(hours=8))
        name = f"mgr-{hall}"
        accounts.create(name, "a good long password", Role.HALL_MANAGER, actor="t", now=NOW)
        with pytest.raises(AccountError, match="taken"):
            accounts.create(name, "another long password", Role.VIEWER, actor="t", now=NOW)
        with pytest.raises(AccountError, match="10 characters"):
            accounts.create(f"x-{hall}", "short", Role.VIEWER, actor="t", now=NOW)
        assert accounts.login(name, "wrong password!", NOW) is None
        assert accounts.login(f"nobody-{hall}", "a good long password", NOW) is None
        found = accounts.login(name, "a good long password", NOW)
        assert found is not None
        token, session = found
        assert accounts.session(token, NOW + timedelta(hours=7)) == session
        assert accounts.session(token, NOW + timedelta(hours=9)) is None  # expired
        accounts.set_password(name, "a new long password", actor="admin", now=NOW)
        assert accounts.session(token, NOW) is None  # a new password ends old sessions
        assert [e.action for e in accounts.audit_entries()] == [
            "account.password",
            "session.login",
            "account.create",
        ]

        config = load_hall(DEMO_HALL_FILE).model_copy(update={"id": hall})
        first, running = store.config_in_force(config, NOW)
        assert running == config
        renamed = config.model_copy(update={"names": {"zh": "新名"}})
        _, _, source = store.newest_config()  # type: ignore[misc]
        second = store.save_config(renamed, author="admin", source_hash=source, now=NOW)
        assert second > first
        assert store.config_in_force(config, NOW) == (second, renamed)  # same file: keep edits
        edited_file = config.model_copy(update={"recent_calls": 8})
        third, running = store.config_in_force(edited_file, NOW)
        assert third > second and running == edited_file  # the edited file wins
    finally:
        store.close()
