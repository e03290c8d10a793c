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

import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Date, Dialect, Table
from sqlalchemy.sql.dml import UpdateBase

from scheduler.tables import UtcDateTime

_DATETIME, _DATE = "datetime", "date"

# The SQL, the keys in its parameters' order, (position, kind) of each time or day
# column, and whether the driver takes parameters by position.
_Compiled = tuple[str, tuple[str, ...], tuple[tuple[int, str], ...], bool]


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
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

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
            found = self._compiled[(dialect.name, keys)] = self._compile(dialect, keys)
        sql, order, times, positional = found
        pick = itemgetter(*order)
        text = dialect.name == "sqlite"  # SQLite keeps times and days as text
        params: list[Any] = []
        # A row's values are picked in the statement's order in one C call, and only its
        # time and day columns (a few of its fields) are converted, by position.
        for row in rows:
            values = list(pick(row)) if len(order) > 1 else [pick(row)]
            for index, kind in times:
                if values[index] is not None:
                    values[index] = _value(kind, values[index], text)
            params.append(values if positional else dict(zip(order, values, strict=True)))
        return sql, params

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        compiled = self._statement.compile(dialect=dialect, column_keys=list(keys))
        # Positional drivers (SQLite's qmark) take values in the statement's order, named
        # ones (psycopg's pyformat) a mapping.
        order = tuple(compiled.positiontup or ()) if compiled.positional else keys
        times = tuple((i, self._kinds[key]) for i, key in enumerate(order) if key in self._kinds)
        return compiled.string, order, times, compiled.positional


def _value(kind: str, value: Any, text: bool) -> Any:
    """A time or a day as the column's type would hand it to the driver."""
    if kind == _DATETIME:
        return _text_time(value) if text else _naive_utc(value)
    day: date = value
    return day.isoformat() if text else day


# A ticket's times are written again with every change of it (its issue time on its
# call and its finish), and a batch's changes share the batch's moment: converting each
# time once, not on every write, was a twentieth of the scheduler's commit path. Equal
# instants give equal conversions, whatever zone they were given in.
@functools.lru_cache(maxsize=4096)
def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime reached the store")
    return moment.astimezone(UTC).replace(tzinfo=None)


@functools.lru_cache(maxsize=4096)
def _text_time(moment: datetime) -> str:
    # SQLAlchemy's SQLite format: always six digits of microseconds.
    return _naive_utc(moment).isoformat(" ", "microseconds")
