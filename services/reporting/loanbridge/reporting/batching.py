"""Upserts collected over a consumer's batch and written with one multi-row statement per table at its commit.

A read model row is made of groups of columns, each with its own rule for when an incoming value replaces the one
held: the lead's attributes go with the newer ``last_sequence``, a milestone with the earliest time, a loan's
disbursement with the last event applied. Within a batch, the values of repeated changes of one row are merged in
memory by the same rule (``Rule.replaces``, with SQL's NULL semantics); at commit the merged row is upserted once,
and the database applies the rule again against the row it holds (``Rule.condition``). Every rule keeps the first
of equals, so merging e1..en first and then applying the result gives what applying e1..en one by one gives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.orm import Session

Values = dict[str, Any]


def _less(a: Any, b: Any) -> bool:
    """``a < b`` as SQL answers it: not true when either is NULL."""
    return a is not None and b is not None and a < b


@dataclass(frozen=True, eq=False)
class Rule:
    """When an incoming group of values replaces the one held: ``replaces(held, incoming)`` in memory,
    ``condition(table, incoming)`` in the upsert (``incoming`` being MySQL's inserted or SQLite's excluded row).

    A group a merged row does not carry is written as NULLs: ``condition`` is false when the incoming ``guard``
    column, which every event of the group sets, is NULL.
    """

    guard: str
    replaces: Callable[[Values, Values], bool]
    condition: Callable[[sa.Table, Any], Any]

    def applies(self, table: sa.Table, incoming: Any) -> Any:
        return sa.and_(incoming[self.guard].is_not(None), self.condition(table, incoming))


@cache
def newer(column: str) -> Rule:
    """The group of the newer ``column`` (a sequence); the held one stays on a tie."""
    return Rule(
        column,
        lambda held, incoming: held[column] is None or _less(held[column], incoming[column]),
        lambda table, incoming: sa.or_(table.c[column].is_(None), table.c[column] < incoming[column]),
    )


@cache
def earlier(column: str) -> Rule:
    """The group of the earlier ``column`` (a time); the held one stays on a tie."""
    return Rule(
        column,
        lambda held, incoming: held[column] is None or _less(incoming[column], held[column]),
        lambda table, incoming: sa.or_(table.c[column].is_(None), table.c[column] > incoming[column]),
    )


@cache
def latest(guard: str) -> Rule:
    """The group of the event applied last (``guard``: a column its events always set)."""
    return Rule(guard, lambda held, incoming: True, lambda table, incoming: sa.true())


@dataclass(frozen=True, eq=False)
class Group:
    """Columns that change together under one rule. On MySQL an upsert assigns left to right and each assignment
    sees the ones before it, so the columns the rule reads come last."""

    columns: tuple[str, ...]
    rule: Rule


@dataclass(frozen=True, eq=False)
class Upsert:
    """How rows of ``table`` keyed on ``key`` are written: ``inserted`` columns are set when the row is inserted
    (by the first change of it) and never updated; each group is updated by its rule. No groups: insert or
    ignore."""

    table: sa.Table
    key: tuple[str, ...]
    inserted: tuple[str, ...] = ()
    groups: tuple[Group, ...] = ()
    columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        grouped = [name for group in self.groups for name in group.columns]
        if len(grouped) != len(set(grouped)) or set(grouped) & set(self.key):
            raise ValueError(f"{self.table.name}: a column is in two groups, or a group holds a key column")
        columns = tuple(dict.fromkeys((*self.key, *self.inserted, *grouped)))
        object.__setattr__(self, "columns", columns)

    def statement(self, dialect: str) -> Any:
        """The upsert, without VALUES (it takes them from the rows it is executed with); built once a dialect."""
        return _statement(self, dialect)


@cache
def _statement(spec: Upsert, dialect: str) -> Any:
    table = spec.table
    if dialect == "sqlite":
        insert = sqlite.insert(table)
        if not spec.groups:
            return insert.on_conflict_do_nothing(index_elements=list(spec.key))
        conditions = [group.rule.applies(table, insert.excluded) for group in spec.groups]
        return insert.on_conflict_do_update(
            index_elements=list(spec.key),
            set_={
                name: sa.case((condition, insert.excluded[name]), else_=table.c[name])
                for group, condition in zip(spec.groups, conditions, strict=True)
                for name in group.columns
            },
            where=sa.or_(*conditions),
        )
    insert = mysql.insert(table)
    if not spec.groups:
        return insert.prefix_with("IGNORE")
    return insert.on_duplicate_key_update(
        [
            (name, sa.case((group.rule.applies(table, insert.inserted), insert.inserted[name]), else_=table.c[name]))
            for group in spec.groups
            for name in group.columns
        ]
    )


class PendingRows:
    """The rows of one ``Upsert`` changed in this batch, each merged in memory, by key."""

    def __init__(self, spec: Upsert) -> None:
        self.spec = spec
        # key -> (the inserted values of its first change, {group: the group's values})
        self.rows: dict[tuple[Any, ...], tuple[Values, dict[Group, Values]]] = {}

    def add(self, values: Values, group: Group | None = None) -> None:
        """A change of the row ``values`` keys: its ``inserted`` columns if it is the row's first, and ``group``'s
        columns if its rule says they replace those held. ``values`` holds the key, and the group's columns."""
        spec = self.spec
        key = tuple(values[name] for name in spec.key)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = ({name: values.get(name) for name in spec.inserted}, {})
        if group is not None:
            incoming = {name: values[name] for name in group.columns}
            held = row[1].get(group)
            if held is None or group.rule.replaces(held, incoming):
                row[1][group] = incoming

    def __bool__(self) -> bool:
        return bool(self.rows)

    def values(self) -> list[Values]:
        """One full row per key (a group it does not carry as NULLs), in key order: concurrent batches lock the
        rows they share in the same order."""
        spec = self.spec
        empty = dict.fromkeys(spec.columns)
        out = []
        for key in sorted(self.rows):
            inserted, groups = self.rows[key]
            row = {**empty, **dict(zip(spec.key, key, strict=True)), **inserted}
            for values in groups.values():
                row.update(values)
            out.append(row)
        return out

    def write(self, session: Session) -> None:
        if self.rows:
            session.execute(self.spec.statement(session.get_bind().dialect.name), self.values())
