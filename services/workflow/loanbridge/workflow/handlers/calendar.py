"""The firm's business calendar: its working hours (configuration) and its own rulings on days (overrides kept
here, edited by admins), ahead of the statutory calendar with 调休 and, for an unknown year, weekends alone.

Every process reads the overrides from the database at most every few seconds, so an override made through one
web process reaches every worker soon after."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.cache import TtlCache
from loanbridge.common.calendar import BusinessCalendar, DayOverride
from loanbridge.common.errors import NotFound
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.workflow import config as settings
from loanbridge.workflow import orm

OVERRIDES_TTL = 5.0
_overrides: TtlCache[dict[date, DayOverride]] = TtlCache(OVERRIDES_TTL)


def business_calendar(uow: UnitOfWork) -> BusinessCalendar:
    """The calendar SLA clocks count on: configured hours, the firm's overrides (cached for a few seconds)."""

    def load() -> dict[date, DayOverride]:
        rows = uow.session.execute(sa.select(orm.calendar_overrides)).all()
        return {row.day: DayOverride(working=bool(row.working), note=row.note) for row in rows}

    overrides = _overrides.get(_key(uow), load) or {}
    return BusinessCalendar(hours=settings.of(uow).working_hours, overrides=overrides)


def _key(uow: UnitOfWork) -> str:
    """Overrides are cached per database (a process may hold several services' runtimes, tests many)."""
    return str(uow.database.engine.url)


def set_override(uow: UnitOfWork, *, principal: Principal, day: date, working: bool, note: str) -> dict[str, Any]:
    """Declare a day working or not for the firm (a make-up Saturday, a company holiday)."""
    table = orm.calendar_overrides
    values = {"working": working, "note": note, "updated_by": principal.subject, "updated_at": naive_utc(clock.now())}
    if uow.session.execute(table.update().where(table.c.day == day).values(**values)).rowcount == 0:  # type: ignore[attr-defined]
        uow.session.execute(table.insert(), {"day": day, **values})
    _overrides.forget(_key(uow))
    return {"day": day, "working": working, "note": note}


def delete_override(uow: UnitOfWork, *, day: date) -> None:
    """Return a day to the statutory calendar."""
    table = orm.calendar_overrides
    if uow.session.execute(table.delete().where(table.c.day == day)).rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("该日期没有自定义设置")
    _overrides.forget(_key(uow))


def list_overrides(uow: UnitOfWork, *, year: int | None) -> list[dict[str, Any]]:
    table = orm.calendar_overrides
    query = sa.select(table).order_by(table.c.day)
    if year is not None:
        query = query.where(table.c.day >= date(year, 1, 1), table.c.day <= date(year, 12, 31))
    return [{"day": row.day, "working": bool(row.working), "note": row.note} for row in uow.session.execute(query)]


def working_day(uow: UnitOfWork, *, day: date) -> dict[str, Any]:
    """Whether the firm works on a day, as SLA clocks count it."""
    return {"day": day, "working": business_calendar(uow).is_working_day(day)}
