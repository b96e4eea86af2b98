"""Running a hot path's Core statements on the session's DBAPI connection, compiled once.

``Connection.execute`` of a cached Core statement still costs three to five times SQLite's own
execution: the cache key, a new execution context, parameter processing through generic code,
a ``CursorResult`` and its metadata. The issue and print paths run a dozen such statements
per ticket. Here each statement is compiled once per dialect into its SQL string, the order of
its parameters, their bind processors and its columns' result processors, and then run
straight on the DBAPI connection of the session's transaction. The types' own processors are
used (the same conversions as ``Connection.execute``), DBAPI errors are wrapped as
SQLAlchemy's (so ``IntegrityError`` and the retry rules are unchanged), and the engine's
``before_cursor_execute`` listeners still see every statement (with no execution context).

Statements with expanding ``IN`` parameters (and, past ``MAX_PREPARED``, new statements) are
not compiled here: ``prepare`` returns None and ``lean_execute`` runs them through
``Connection.execute``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Executable, exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class Prepared:
    """One statement compiled for one dialect."""

    sql: str
    positional: bool
    # (bind name, its literal value or _REQUIRED, its bind processor or None), in the order
    # of a positional paramstyle
    slots: tuple[tuple[str, Any, Processor], ...]
    keys: tuple[str, ...]  # result column keys ("" when none)
    results: tuple[Processor, ...]
    row: type[tuple[Any, ...]] | None


_PREPARED: dict[tuple[int, str, tuple[str, ...]], Prepared | None] = {}
MAX_PREPARED = 512  # the hot paths prepare a few dozen
_warned: list[bool] = []


def _row_type(keys: Sequence[str]) -> type[tuple[Any, ...]]:
    fields = [
        k if k.isidentifier() and not k.startswith("_") else f"c{i}" for i, k in enumerate(keys)
    ]
    return NamedTuple("LeanRow", [(f, Any) for f in fields])  # type: ignore[return-value]


def prepare(stmt: Executable, dialect: Dialect, keys: tuple[str, ...] = ()) -> Prepared | None:
    """``stmt`` compiled for ``dialect``, once; None when it needs the general path. ``keys``
    are the parameter names given: an INSERT or UPDATE without ``values()`` sets those columns,
    as with ``Connection.execute``."""
    memo = (id(stmt), dialect.name, keys)
    found = _PREPARED.get(memo, _MISSING)
    if found is not _MISSING:
        return found  # type: ignore[return-value]
    if len(_PREPARED) >= MAX_PREPARED:
        # The hot paths use statements built once; a caller that builds one per call would
        # fill this cache (and compile each time): it gets the general path instead.
        if not _warned:
            _warned.append(True)
            log.warning(
                "lean: %d statements prepared; new ones run through Connection.execute",
                MAX_PREPARED,
            )
        return None
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
    prepared: Prepared | None = None
    if not any(b.expanding for b in compiled.binds.values()):
        positional = bool(compiled.positional)
        names = tuple(compiled.positiontup or ()) if positional else tuple(compiled.binds)
        escaped = getattr(compiled, "escaped_bind_names", None) or {}
        if escaped and not positional:
            prepared = None  # renamed binds: leave them to Connection.execute
        else:
            slots = []
            for name in names:
                bind = compiled.binds[name]
                proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
                slots.append((name, _REQUIRED if bind.required else bind.value, proc))
            columns = list(getattr(stmt, "exported_columns", ()) or ())
            names_out = tuple(str(getattr(c, "key", "") or "") for c in columns)
            results = _result_processors(columns, dialect)
            if results is not None:
                prepared = Prepared(
                    sql=compiled.string,
                    positional=positional,
                    slots=tuple(slots),
                    keys=names_out,
                    results=results,
                    row=_row_type(names_out) if names_out else None,
                )
    _PREPARED[memo] = prepared
    # Keep the statement alive with its entry: the id() key must not be reused by another.
    _KEEP.append(stmt)
    return prepared


def _result_processors(columns: list[Any], dialect: Dialect) -> tuple[Any, ...] | None:
    """Each result column's processor, or None when one depends on the cursor's description
    (psycopg's ``Float`` asks for the column's type code): such statements take the general
    path."""
    try:
        return tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
    except (TypeError, exc.InvalidRequestError):
        return None


_KEEP: list[Executable] = []
_MISSING = object()
_REQUIRED = object()


class LeanResult:
    """The rows of one lean execution, with the ``CursorResult`` methods the hot paths use."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return list(self._rows)

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise (
                exc.NoResultFound("no row")
                if not self._rows
                else exc.MultipleResultsFound("more than one row")
            )
        return self._rows[0]

    def one_or_none(self) -> Any:
        return None if not self._rows else self.one()

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalars(self) -> LeanResult:
        """The first column's values, as a result of their own (``all()``, ``first()``…)."""
        return LeanResult([r[0] for r in self._rows], self.rowcount)


def _args(p: Prepared, params: dict[str, Any]) -> Any:
    """The DBAPI parameters: given values (or the literal ones), through the bind processors."""
    out = []
    for name, literal, proc in p.slots:
        value = params.get(name, literal)
        if value is _REQUIRED:
            raise exc.ArgumentError(f"a value is required for bind parameter {name!r}")
        out.append(value if proc is None else proc(value))
    if p.positional:
        return tuple(out)
    return {slot[0]: value for slot, value in zip(p.slots, out, strict=True)}


def lean_execute(s: Session, stmt: Executable, params: Any = None) -> Any:
    """Run ``stmt`` in ``s``'s transaction. ``params`` is a dict, or a list of dicts for an
    executemany (no rows returned). Pending ORM changes are flushed first."""
    s.flush()  # nothing to do (and cheap) when the session is clean
    tx = s.get_transaction()
    held = s.info.get("lean_connection")
    if held is not None and held[0] is tx and tx is not None:
        conn = held[1]
    else:
        conn = s.connection()  # begins the transaction if need be
        s.info["lean_connection"] = (s.get_transaction(), conn)
    return execute_on(conn, stmt, params)


def execute_on(conn: Connection, stmt: Executable, params: Any = None) -> Any:
    """Run ``stmt`` on a Core connection in a transaction (``Database.run_core``), as
    ``lean_execute`` does in a session's: no session, no ORM objects at all."""
    dialect = conn.dialect
    many = isinstance(params, list)
    first = (params[0] if params else {}) if many else (params or {})
    p = prepare(stmt, dialect, tuple(first))
    if p is None:
        return conn.execute(stmt, params)
    raw = conn.connection.dbapi_connection
    try:
        cursor = raw.cursor()
        try:
            listeners = conn.dispatch.before_cursor_execute
            if listeners:  # tests and benchmarks count statements this way
                for fn in listeners:
                    fn(conn, cursor, p.sql, params, None, many)
            if many:
                cursor.executemany(p.sql, [_args(p, x) for x in params])
                return LeanResult([], cursor.rowcount)
            cursor.execute(p.sql, _args(p, first))
            rows: list[Any] = []
            if p.row is not None:
                fetched = cursor.fetchall()
                procs = p.results
                if any(procs):
                    fetched = [
                        tuple(f(v) if f is not None else v for f, v in zip(procs, r, strict=True))
                        for r in fetched
                    ]
                make = p.row._make  # type: ignore[attr-defined]
                rows = [make(r) for r in fetched]
            return LeanResult(rows, cursor.rowcount)
        finally:
            cursor.close()
    except dialect.loaded_dbapi.Error as e:
        raise exc.DBAPIError.instance(
            p.sql, params, e, dialect.loaded_dbapi.Error, dialect=dialect
        ) from e
