"""Filling a fresh install: refuse one that already has leads, walk the story from ``months`` ago to the present,
then close, unfired, every timer and scheduled message the history left due before the present."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
import structlog

from loanbridge.common import clock
from loanbridge.common.embedded import Suite
from loanbridge.common.tables import dead_letters, dispatch_retries, outbox
from loanbridge.demo import firm
from loanbridge.demo.story import Story
from loanbridge.demo.walk import Walk, local
from loanbridge.intake import orm as intake_orm

log = structlog.get_logger(__name__)

DEFAULT_SEED = 20260601
SETUP_AT = time(8, 0)  # the firm's accounts, channels and lenders are set up on the first morning
# Tokens minted inside the walk must outlive it: months of business time pass between a sign-in and the last step.
TOKEN_TTL_ENV = "LOANBRIDGE_IDENTITY_TOKEN_TTL_SECONDS"


class AlreadyFilled(Exception):
    """The install has leads: demo data goes only into a fresh one."""


@dataclass(frozen=True)
class Options:
    months: int = 6
    leads_per_month: int = 30
    seed: int = DEFAULT_SEED
    password: str | None = None


@dataclass(frozen=True)
class Summary:
    first_day: str
    last_day: str
    closed_at: str
    password: str
    usernames: dict[str, list[str]]
    counts: dict[str, int]
    closed: dict[str, dict[str, int]]
    events: dict[str, int]
    pending_retries: int
    dead_letters: int
    steps: int
    api_calls: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def environment(environ: dict[str, str], *, months: int) -> dict[str, str]:
    """The suite's settings for the walk: tokens that last as long as the history."""
    return {**environ, TOKEN_TTL_ENV: str((months + 2) * 31 * 86400)}


def lead_count(suite: Suite) -> int:
    with suite.runtimes["intake"].database.session() as session:
        return int(session.execute(sa.select(sa.func.count()).select_from(intake_orm.leads)).scalar_one())


def fill(suite: Suite, options: Options, *, now: datetime | None = None) -> Summary:
    """Write the demo firm into a suite whose databases hold no leads yet; answers what was written."""
    existing = lead_count(suite)
    if existing:
        raise AlreadyFilled(f"该安装已有 {existing} 条线索,演示数据只能写入全新安装")
    present = clock.as_utc(now or clock.now())
    end = present - timedelta(minutes=5)
    last_day = clock.business_date(end)
    first_day = last_day - timedelta(days=round(options.months * 30.44))
    password = options.password or secrets.token_urlsafe(12)
    walk = Walk(suite, start=local(first_day, SETUP_AT), end=end)
    story = Story(walk, seed=options.seed, password=password, leads_per_month=options.leads_per_month)
    with clock.use_clock(walk.clock):
        story.setup()
        story.plan(first_day, last_day)
        walk.run()
        walk.clock.set(present)
        closed = {
            name: spec.close_history(suite.runtimes[name], before=present, actor="demo-data")
            for name, runtime in suite.runtimes.items()
            if (spec := runtime.spec).close_history is not None
        }
    retries, dead = _undelivered(suite)
    usernames: dict[str, list[str]] = {}
    for person in firm.STAFF:
        for role in person.roles:
            usernames.setdefault(role, []).append(person.username)
    summary = Summary(
        first_day=first_day.isoformat(), last_day=last_day.isoformat(), closed_at=clock.isoformat(present),
        password=password, usernames=usernames, counts=asdict(story.counts), closed=closed,
        events=_events(suite), pending_retries=retries, dead_letters=dead, steps=walk.steps,
        api_calls=walk.api.calls,
    )  # fmt: skip
    log.info("demo_data_written", **{k: v for k, v in summary.as_dict().items() if k != "password"})
    return summary


def _events(suite: Suite) -> dict[str, int]:
    found = {}
    for name, runtime in suite.runtimes.items():
        with runtime.database.session() as session:
            found[name] = int(session.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one())
    return found


def _undelivered(suite: Suite) -> tuple[int, int]:
    retries = dead = 0
    for runtime in suite.runtimes.values():
        with runtime.database.session() as session:
            retries += int(session.execute(sa.select(sa.func.count()).select_from(dispatch_retries)).scalar_one())
            dead += int(session.execute(sa.select(sa.func.count()).select_from(dead_letters)).scalar_one())
    return retries, dead
