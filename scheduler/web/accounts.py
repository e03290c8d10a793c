"""Dashboard accounts, sessions and the audit log, stored beside the queue's tables.

Passwords are argon2id hashes; a session is a random token of which only the SHA-256 is
stored, with its own CSRF token; every change a person makes is written to the audit log
in the same transaction as the change where the change is the dashboard's own.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, insert, select, update

from scheduler.store import Store, insert_audit
from scheduler.tables import accounts, audit_log, web_sessions


class Role(StrEnum):
    """What a person may do on the dashboard; each role includes the ones below it."""

    VIEWER = "viewer"  # watch the hall, read ratings and reports
    HALL_MANAGER = "hall_manager"  # follow up bad ratings, review ratings, export reports
    ADMINISTRATOR = "administrator"  # configuration and accounts as well


RANK = {Role.VIEWER: 0, Role.HALL_MANAGER: 1, Role.ADMINISTRATOR: 2}


class AccountError(ValueError):
    """A refused account operation, said so a person can act on it."""


@dataclass(frozen=True)
class Account:
    """A person who may log in."""

    id: int
    username: str
    display_name: str
    role: Role
    active: bool

    def may(self, role: Role) -> bool:
        """Whether this account holds ``role`` or a higher one."""
        return self.active and RANK[self.role] >= RANK[role]


@dataclass(frozen=True)
class Session:
    """A logged-in browser or API client."""

    account: Account
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    """One recorded change."""

    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _account_from(row: Any) -> Account:
    return Account(row.id, row.username, row.display_name, Role(row.role), bool(row.active))


class AccountStore:
    """Accounts, sessions and the audit log of one hall's dashboard."""

    def __init__(self, store: Store, hall: str, session_lifetime: timedelta) -> None:
        self.store = store
        self.hall = hall
        self.session_lifetime = session_lifetime
        self._hasher = PasswordHasher()
        # Checked against when the username is unknown, so timing does not tell names apart.
        self._decoy = self._hasher.hash(secrets.token_hex(16))

    @property
    def engine(self) -> Engine:
        """The open store's engine."""
        return self.store.engine

    # --- accounts -------------------------------------------------------------------
    def create(
        self,
        username: str,
        password: str,
        role: Role,
        *,
        display_name: str | None = None,
        actor: str,
        now: datetime,
    ) -> Account:
        """A new account (audited); refused if the name is taken or the password short."""
        if len(password) < 10:
            raise AccountError("a password needs at least 10 characters")
        if not username or len(username) > 64:
            raise AccountError("a username has 1 to 64 characters")
        with self.engine.begin() as conn:
            taken = conn.execute(select(accounts.c.id).where(accounts.c.username == username))
            if taken.first() is not None:
                raise AccountError(f"the username {username!r} is taken")
            account_id = conn.execute(
                insert(accounts)
                .values(
                    username=username,
                    display_name=display_name or username,
                    password_hash=self._hasher.hash(password),
                    role=role.value,
                    active=True,
                    created_at=now,
                )
                .returning(accounts.c.id)
            ).scalar_one()
            insert_audit(
                conn, self.hall, now, actor, "account.create", username, {"role": role.value}
            )
        return Account(int(account_id), username, display_name or username, role, True)

    def accounts(self) -> list[Account]:
        """Every account, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(accounts).order_by(accounts.c.username))
            return [_account_from(r) for r in rows]

    def set_password(self, username: str, password: str, *, actor: str, now: datetime) -> None:
        """Give an account a new password (audited); its open sessions end."""
        if len(password) < 10:
            raise AccountError("a password needs at least 10 characters")
        with self.engine.begin() as conn:
            row = conn.execute(select(accounts).where(accounts.c.username == username)).first()
            if row is None:
                raise AccountError(f"no account {username!r}")
            conn.execute(
                update(accounts)
                .where(accounts.c.id == row.id)
                .values(password_hash=self._hasher.hash(password))
            )
            conn.execute(delete(web_sessions).where(web_sessions.c.account_id == row.id))
            insert_audit(conn, self.hall, now, actor, "account.password", username, {})

    def ensure(
        self, username: str, password: str, role: Role, *, actor: str, now: datetime
    ) -> None:
        """Create the account, or reset its password if it exists (the demo's logins)."""
        try:
            self.create(username, password, role, actor=actor, now=now)
        except AccountError:
            self.set_password(username, password, actor=actor, now=now)

    def set_active(self, username: str, active: bool, *, actor: str, now: datetime) -> None:
        """Lock or unlock an account; locking also ends its sessions."""
        with self.engine.begin() as conn:
            row = conn.execute(select(accounts).where(accounts.c.username == username)).first()
            if row is None:
                raise AccountError(f"no account {username!r}")
            conn.execute(update(accounts).where(accounts.c.id == row.id).values(active=active))
            if not active:
                conn.execute(delete(web_sessions).where(web_sessions.c.account_id == row.id))
            action = "account.unlock" if active else "account.lock"
            insert_audit(conn, self.hall, now, actor, action, username, {})

    # --- sessions -------------------------------------------------------------------
    def login(self, username: str, password: str, now: datetime) -> tuple[str, Session] | None:
        """Check a password; on success a new session and its token (shown once)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(accounts).where(accounts.c.username == username)).first()
        stored = row.password_hash if row is not None else self._decoy
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row.active:
            return None
        account = _account_from(row)
        token = secrets.token_urlsafe(32)
        session = Session(account, secrets.token_urlsafe(24), now + self.session_lifetime)
        with self.engine.begin() as conn:
            if self._hasher.check_needs_rehash(row.password_hash):
                conn.execute(
                    update(accounts)
                    .where(accounts.c.id == row.id)
                    .values(password_hash=self._hasher.hash(password))
                )
            conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))
            conn.execute(
                insert(web_sessions).values(
                    token_hash=_token_hash(token),
                    account_id=account.id,
                    csrf_token=session.csrf_token,
                    created_at=now,
                    expires_at=session.expires_at,
                )
            )
            insert_audit(conn, self.hall, now, username, "session.login", username, {})
        return token, session

    def session(self, token: str, now: datetime) -> Session | None:
        """The live session of a token; None when unknown, expired or locked."""
        query = (
            select(accounts, web_sessions.c.csrf_token, web_sessions.c.expires_at)
            .join(web_sessions, web_sessions.c.account_id == accounts.c.id)
            .where(web_sessions.c.token_hash == _token_hash(token))
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or row.expires_at <= now or not row.active:
            return None
        return Session(_account_from(row), row.csrf_token, row.expires_at)

    def logout(self, token: str, now: datetime) -> None:
        """End a session."""
        with self.engine.begin() as conn:
            gone = web_sessions.c.token_hash == _token_hash(token)
            conn.execute(delete(web_sessions).where(gone))

    # --- the audit log ----------------------------------------------------------------
    def record(
        self, now: datetime, actor: str, action: str, target: str, detail: dict[str, Any]
    ) -> None:
        """Record a change made elsewhere (the scheduler applied it) in its own transaction."""
        with self.engine.begin() as conn:
            insert_audit(conn, self.hall, now, actor, action, target, detail)

    def audit_entries(self, limit: int = 200) -> list[AuditEntry]:
        """The newest changes first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(audit_log)
                .where(audit_log.c.hall == self.hall)
                .order_by(audit_log.c.id.desc())
                .limit(limit)
            ).all()
        return [
            AuditEntry(r.at, r.actor, r.action, r.target, json.loads(r.detail or "{}"))
            for r in rows
        ]
