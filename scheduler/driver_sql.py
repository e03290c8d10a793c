"""The commit path's most frequent statements, run on the database driver's own cursor.

Every command writes its ticket and its answer; through SQLAlchemy's execution machinery
(compiling, caching, result objects, a bind processor per value) those statements cost
the scheduler more than the database did. Here SQLAlchemy still writes the SQL, once per
dialect, so quoting and parameter style stay its own; values are converted as the
tables' types would convert them, and the rows go to the driver's ``executemany`` on
the same connection, inside the same transaction.

A test writes the same rows both ways on SQLite and PostgreSQL and compares what the
database holds, byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Date, Table
from sqlalchemy.sql.dml import UpdateBase

from scheduler.tables import UtcDateTime

_DATETIME, _DATE = "datetime", "date"


class DriverStatement:
    """One INSERT or UPDATE, compiled once per dialect and set of keys, run by the driver."""

    def __init__(self, statement: UpdateBase, table: Table) -> None:
        self._statement = statement
        self._kinds: dict[str, str] = {}
        for column in table.columns:
            if isinstance(column.type, UtcDateTime):
                self._kinds[column.name] = _DATETIME
            elif isinstance(column.type, Date):
                self._kinds[column.name] = _DATE
        self._compiled: dict[tuple[str, tuple[str, ...]], tuple[str, tuple[str, ...] | None]] = {}

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute for every row (all rows with the same keys) in ``conn``'s transaction."""
        if not rows:
            return
        sql, params = self._prepared(conn, rows)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, params)
        finally:
            cursor.close()

    def run_returning(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Execute row by row, in order, and return each row's RETURNING value (a batch
        has a message or two: one statement each keeps the ids in the rows' order)."""
        if not rows:
            return []
        sql, params = self._prepared(conn, rows)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            found = []
            for values in params:
                cursor.execute(sql, values)
                returned = cursor.fetchone()
                if returned is None:
                    raise RuntimeError("an INSERT ... RETURNING returned no row")
                found.append(returned[0])
            return found
        finally:
            cursor.close()

    def _prepared(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> tuple[str, Any]:
        dialect = conn.dialect
        keys = tuple(rows[0])
        found = self._compiled.get((dialect.name, keys))
        if found is None:
            compiled = self._statement.compile(dialect=dialect, column_keys=list(keys))
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            found = self._compiled[(dialect.name, keys)] = (compiled.string, order)
        sql, order = found
        text = dialect.name == "sqlite"  # SQLite keeps times and days as text
        kinds = self._kinds
        params: list[Any]
        if order is not None:
            params = [tuple(_value(kinds.get(k), row[k], text) for k in order) for row in rows]
        else:
            params = [{k: _value(kinds.get(k), v, text) for k, v in row.items()} for row in rows]
        return sql, params


def _value(kind: str | None, value: Any, text: bool) -> Any:
    """A value as the column's type would hand it to the driver."""
    if value is None or kind is None:
        return value
    if kind == _DATETIME:
        moment: datetime = value
        if moment.tzinfo is None:
            raise ValueError("naive datetime reached the store")
        naive = moment.astimezone(UTC).replace(tzinfo=None)
        # SQLAlchemy's SQLite format: always six digits of microseconds.
        return naive.isoformat(" ", "microseconds") if text else naive
    day: date = value
    return day.isoformat() if text else day
