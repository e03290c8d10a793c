"""Find (or start) a local PostgreSQL server and make scratch databases on it.

Used by the test suite and ``paidui bench``. The URL comes from ``PAIDUI_POSTGRES_URL``
when set (an administrative URL, e.g. ``postgresql+psycopg://postgres@db/postgres``);
otherwise the usual local server is tried, and started with ``pg_ctlcluster`` where
Debian's packaging is installed but the server is down.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

ENV_URL = "PAIDUI_POSTGRES_URL"
LOCAL_URLS = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "postgresql+psycopg://postgres@/postgres?host=/var/run/postgresql",
)


def _reachable(url: str) -> bool:
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def _start_debian_cluster() -> None:
    tool = shutil.which("pg_ctlcluster")
    clusters = Path("/etc/postgresql")
    if tool is None or not clusters.is_dir():
        return
    for version in sorted(p.name for p in clusters.iterdir()):
        subprocess.run(
            [tool, "--skip-systemctl-redirect", version, "main", "start"],
            capture_output=True,
            timeout=60,
            check=False,
        )


def find_postgres() -> tuple[str | None, str]:
    """An administrative URL of a running server, or None and the reason there is none."""
    configured = os.environ.get(ENV_URL)
    if configured:
        if _reachable(configured):
            return configured, ""
        return None, f"{ENV_URL}={configured} does not answer"
    for url in LOCAL_URLS:
        if _reachable(url):
            return url, ""
    _start_debian_cluster()
    for url in LOCAL_URLS:
        if _reachable(url):
            return url, ""
    return None, (
        "no PostgreSQL server on 127.0.0.1:5432 or the local socket, and none could be "
        f"started; install postgresql or set {ENV_URL}"
    )


def _run_outside_transaction(admin_url: str, statement: str) -> None:
    # CREATE and DROP DATABASE refuse to run inside a transaction block.
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def create_database(admin_url: str, name: str) -> str:
    """Create an empty database; returns its URL."""
    _run_outside_transaction(admin_url, f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    """Drop a scratch database, closing whatever still uses it."""
    _run_outside_transaction(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
