"""Walking the embedded suite through past business time: a FixedClock moved from one scheduled step to the next,
every step an HTTP call to a service's own API (its Flask app's test client, with a real token), and after each
step the in-process dispatchers drained, so every consequence happens at the step's business time and every
event's ``time`` is that instant. No timer sweep runs: the story decides what happens and when."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from loanbridge.common import clock
from loanbridge.common.embedded import Suite
from loanbridge.common.events.dispatcher import BATCH_SIZE

WORK_START, WORK_END = time(9, 0), time(18, 0)


class DemoError(Exception):
    """A step of the story was refused by a service: the demo stops and says which call and why."""


class Api:
    """Every service's app behind its test client; ``call`` raises DemoError on an unexpected status."""

    def __init__(self, suite: Suite) -> None:
        self.clients = {name: app.test_client() for name, app in suite.apps.items()}
        self.calls = 0

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        data: Any = None,
        expect: tuple[int, ...] = (200, 201),
        headers: dict[str, str] | None = None,
    ) -> Any:
        service = path.split("/")[2]
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        response = self.clients[service].open(path, method=method, json=json, data=data, headers=sent)
        self.calls += 1
        if response.status_code not in expect:
            raise DemoError(f"{method} {path} answered {response.status_code}: {response.get_data(as_text=True)}")
        return response.get_json(silent=True)


class Walk:
    """The clock, the schedule of steps and the drained dispatchers of one suite."""

    def __init__(self, suite: Suite, *, start: datetime, end: datetime) -> None:
        self.suite = suite
        self.api = Api(suite)
        self.clock = clock.FixedClock(start)
        self.end = end
        self._queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self.steps = 0
        # Which dispatchers read which producer's log: those subscribed to at least one of its event types (the
        # others' cursors move on at the full drains).
        self._readers = {
            producer: [d for d in suite.dispatchers if any(key.startswith(f"{producer}.") for key in
                                                           d.subscriber.spec.subscriptions)]
            for producer in suite.runtimes
        }  # fmt: skip

    # --- the schedule -----------------------------------------------------------------------------------
    def at(self, when: datetime, step: Callable[[], None]) -> None:
        """Schedule a step; one that would fall at or after the end of history is not part of it."""
        if when < self.end:
            heapq.heappush(self._queue, (when, next(self._order), step))

    def run(self) -> None:
        """Take the steps in time order, each at its own business time, draining the dispatchers after each."""
        self.drain(full=True)
        while self._queue:
            when, _, step = heapq.heappop(self._queue)
            self.clock.set(max(when, self.clock.now()))
            step()
            self.drain()
            self.steps += 1
        self.drain(full=True)

    # --- delivery -----------------------------------------------------------------------------------------
    def drain(self, *, full: bool = False) -> None:
        """Deliver every event written so far to its subscribers (only the outboxes that changed, unless
        ``full``, which also retries parked events), until nothing moves."""
        runtimes = self.suite.runtimes
        if full:
            while any([dispatcher.dispatch_once() for dispatcher in self.suite.dispatchers]):
                pass
            for runtime in runtimes.values():
                runtime.outbox_written.clear()
            return
        while True:
            changed = [name for name, runtime in runtimes.items() if runtime.outbox_written.is_set()]
            if not changed:
                return
            for name in changed:
                runtimes[name].outbox_written.clear()
                for dispatcher in self._readers[name]:
                    while dispatcher.dispatch_from(name) >= BATCH_SIZE:
                        pass


# --- business time ----------------------------------------------------------------------------------------
def local(day: date, at: time) -> datetime:
    """A wall-clock time of a business day, as an aware UTC instant."""
    return datetime.combine(day, at, tzinfo=clock.business_timezone()).astimezone(UTC)


def working_day(day: date) -> bool:
    return day.weekday() < 5


def next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while not working_day(day):
        day += timedelta(days=1)
    return day


def in_working_hours(instant: datetime) -> datetime:
    """The instant itself if it falls in working hours of a weekday, else the next working morning."""
    seen = clock.to_business(instant)
    if working_day(seen.date()) and WORK_START <= seen.time() < WORK_END:
        return instant
    day = seen.date() if seen.time() < WORK_START and working_day(seen.date()) else next_working_day(seen.date())
    return local(day, WORK_START) + (instant - instant.replace(second=0, microsecond=0)) + timedelta(minutes=7)


def after_working_hours(instant: datetime, hours: float) -> datetime:
    """Roughly ``hours`` of working time after an instant (whole nights and weekends skipped)."""
    moment = in_working_hours(instant)
    left = timedelta(hours=hours)
    while True:
        seen = clock.to_business(moment)
        closing = local(seen.date(), WORK_END)
        if moment + left < closing:
            return moment + left
        left -= closing - moment
        moment = local(next_working_day(seen.date()), WORK_START)


def after_days(instant: datetime, days: int, rng: Any) -> datetime:
    """Some working day ``days`` later, at a plausible hour."""
    day = clock.business_date(instant)
    for _ in range(days):
        day = next_working_day(day)
    return local(day, time(rng.randint(9, 17), rng.randrange(60)))
