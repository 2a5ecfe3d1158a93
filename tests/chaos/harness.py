"""The chaos harness: a load generator of partner leads, a nemesis that kills and cuts what the stack runs on,
and a total-queue checker that reconciles what the clients were told with what every service holds.

The broker and the database the nemesis kills are servers of the harness's own (``OwnRabbitMQ``, ``OwnMariaDB``
in ``loanbridge.common.testing.servers``): the machine's shared servers are never touched.

"Processed" means: the lead is a row in intake (by its external_ref), workflow has its case (cases.id = the lead
id), and reporting has its lead facts with a business day (the row its KPIs count). A lead acknowledged (2xx) and
not processed is lost. A lead in intake that was never acknowledged is unexpected; it is allowed only when its
request got no answer from the service (a client timeout or connection error, or the gateway's 502/504), since
then the client cannot know. Applied twice is any of: two intake rows for one external_ref, two cases for one
lead, two ``intake.lead.created`` (or two ``workflow.case.assigned``) events for one lead, or an event dead-lettered
because applying it again failed.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

import requests

from loanbridge.common import service as services
from loanbridge.common.events.broker import ConfirmingPublisher, Outgoing, connect
from loanbridge.common.events.envelope import MESSAGE_CONTENT_TYPE, Envelope
from loanbridge.common.events.topology import EXCHANGE
from loanbridge.common.testing.servers import OwnMariaDB, OwnRabbitMQ
from loanbridge.common.testing.synthetic import SyntheticPeople
from loanbridge.common.testing.waiting import wait_until
from tests.integration import leads
from tests.integration.support import Partner, Stack

CONSUMERS = tuple(sorted(name for name, spec in services.discover().items() if spec.subscriptions))
NO_ANSWER = {None, 502, 504}  # the request may or may not have been applied: the client cannot know


def scale(default: int) -> int:
    """The number of leads (or events) a scenario uses: ``--leads`` / ``LOANBRIDGE_CHAOS_LEADS``, else ``default``."""
    return int(os.environ.get("LOANBRIDGE_CHAOS_LEADS") or default)


def rate() -> float:
    """Leads per second the load generator offers (``LOANBRIDGE_CHAOS_RATE``; 45/s posts 10,000 in ~3.7 min)."""
    return float(os.environ.get("LOANBRIDGE_CHAOS_RATE") or 45)


# --- load -------------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What one client request was told."""

    index: int
    external_ref: str
    started: float  # time.monotonic() when sent
    latency: float
    status: int | None  # None: no answer (timeout, connection error)
    lead_id: str | None = None
    code: str | None = None  # the error body's code

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def thread_session(local: threading.local, partner: Partner) -> requests.Session:
    """This thread's HTTP session with the partner's credentials (a session is not shared between threads)."""
    session = getattr(local, "session", None)
    if session is None:
        session = local.session = requests.Session()
        session.headers.update(partner.api.session.headers)
    return session


class LoadGenerator:
    """Posts ``count`` partner leads through the gateway at ``rate`` per second, on a fixed schedule (an
    open-loop load: a slow answer does not slow the offered rate), with unique external refs and ID numbers and
    mobiles from ``SyntheticPeople``; records every request's outcome and latency."""

    def __init__(
        self,
        partner: Partner,
        *,
        count: int,
        rate: float,
        prefix: str,
        seed: int,
        timeout: float = 15,
        concurrency: int | None = None,
    ):
        self.partner, self.count, self.rate, self.prefix, self.timeout = partner, count, rate, prefix, timeout
        # Requests in flight at once: enough that answers slower than 1/rate do not slow the offered rate.
        self.concurrency = concurrency or max(16, int(rate))
        rng, people = random.Random(seed), SyntheticPeople(seed)
        self.bodies = [
            leads.lead(
                rng,
                external_ref=f"{prefix}-{n}",
                mobile=people.next_mobile(),
                id_number=people.next_id_number(),
            )
            for n in range(count)
        ]
        self.outcomes: list[Outcome] = []
        self.started_at = 0.0
        self.finished_at = 0.0
        self._stopping = threading.Event()
        self._local = threading.local()
        self._thread: threading.Thread | None = None

    @property
    def duration(self) -> float:
        return self.count / self.rate

    def start(self) -> LoadGenerator:
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="chaos-load", daemon=True)
        self._thread.start()
        return self

    def join(self) -> list[Outcome]:
        assert self._thread is not None
        self._thread.join()
        return self.outcomes

    def stop(self) -> None:
        """Send no more requests (those in flight finish): ``count`` is then an upper bound."""
        self._stopping.set()

    def _run(self) -> None:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            self.outcomes = [outcome for outcome in pool.map(self._post, range(self.count)) if outcome is not None]
        self.finished_at = time.monotonic()

    def _session(self) -> requests.Session:
        return thread_session(self._local, self.partner)

    def _post(self, index: int) -> Outcome | None:
        delay = self.started_at + index / self.rate - time.monotonic()
        if (delay > 0 and self._stopping.wait(delay)) or self._stopping.is_set():
            return None
        body = self.bodies[index]
        sent = time.monotonic()
        try:
            answer = self._session().post(
                f"{self.partner.api.base}/api/intake/v1/leads", json=body, timeout=self.timeout
            )
        except requests.RequestException:
            return Outcome(index, body["external_ref"], sent, time.monotonic() - sent, None)
        latency = time.monotonic() - sent
        try:
            payload = answer.json()
        except ValueError:
            payload = {}
        return Outcome(
            index,
            body["external_ref"],
            sent,
            latency,
            answer.status_code,
            lead_id=payload.get("id") if answer.status_code < 300 else None,
            code=payload.get("code") if answer.status_code >= 300 else None,
        )


# --- the nemesis ------------------------------------------------------------------------------------------------
@dataclass
class Window:
    """One fault, from when it began to when the system had it healed (server answering again)."""

    what: str
    began: float
    healed: float = 0.0

    def holds(self, instant: float) -> bool:
        return self.began <= instant <= (self.healed or float("inf"))


@dataclass
class Nemesis:
    """Kills, restarts and cuts, each recorded as a window. Ends only processes the harness started."""

    stack: Stack
    broker: OwnRabbitMQ
    database: OwnMariaDB
    windows: list[Window] = field(default_factory=list)

    def kill_broker(self, outage: float) -> Window:
        """SIGKILL the broker's beam.smp, leave it down ``outage`` seconds, start it again on the same data."""
        window = Window("broker SIGKILL", time.monotonic())
        self.windows.append(window)
        self.broker.kill()
        time.sleep(outage)
        self.broker.start()
        window.healed = time.monotonic()
        return window

    def kill_database(self, outage: float) -> Window:
        """SIGKILL mariadbd, leave it down ``outage`` seconds, start it again (InnoDB crash recovery)."""
        window = Window("database SIGKILL", time.monotonic())
        self.windows.append(window)
        self.database.kill()
        time.sleep(outage)
        self.database.start()
        window.healed = time.monotonic()
        self._wait_ready()
        return window

    def _wait_ready(self) -> None:
        """Until every web and worker answers its readiness probe again."""
        urls = [f"{self.stack.web_url(name)}/readyz" for name in services.SERVICE_ORDER]
        urls += [f"{self.stack.worker_url(name)}/readyz" for name in services.SERVICE_ORDER]

        def ready() -> bool:
            try:
                return all(requests.get(url, timeout=2).status_code == 200 for url in urls)
            except requests.RequestException:
                return False

        wait_until(ready, timeout=60, interval=0.5, message="every process ready again")

    def kill_process(self, name: str) -> Window:
        """SIGKILL one stack process (its process group) and start it again, waiting until it is ready."""
        window = Window(f"{name} SIGKILL", time.monotonic())
        self.windows.append(window)
        self.stack.kill(name)
        self.stack.restart(name)
        window.healed = time.monotonic()
        return window

    def proxy_fault(self, proxy_name: str, mode: str, duration: float, **kwargs: float) -> Window:
        """Hold a fault (``black_hole``, ``cut``, ``delay`` with ``seconds=`` each way) on a fault proxy for
        ``duration`` seconds; ``reset`` aborts every connection once a second (``every=``) for ``duration``."""
        proxy = getattr(self.stack, f"{proxy_name}_proxy")
        window = Window(f"{proxy_name} {mode}", time.monotonic())
        self.windows.append(window)
        if mode == "reset":
            every = kwargs.get("every", 1.0)
            deadline = time.monotonic() + duration
            while time.monotonic() < deadline:
                proxy.reset()
                time.sleep(every)
        else:
            with proxy.fault(mode, **kwargs):
                time.sleep(duration)
        window.healed = time.monotonic()
        return window

    def during(self, instant: float) -> Window | None:
        return next((window for window in self.windows if window.holds(instant)), None)


def at(offsets: Iterable[float], action: Callable[[], Any], *, start: float) -> threading.Thread:
    """Run ``action`` at each offset (seconds after ``start``), in a thread; returns the thread."""

    def run() -> None:
        for offset in offsets:
            delay = start + offset - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            action()

    thread = threading.Thread(target=run, name="chaos-nemesis", daemon=True)
    thread.start()
    return thread


# --- observation ------------------------------------------------------------------------------------------------
class WorkerCounters:
    """Counters read from the workers' /metrics each second while a run goes, and added across restarts: a worker
    restarted by the nemesis starts its counters at 0 again (what a killed worker counted after its last poll is
    missed, so the totals are lower bounds). ``key`` picks the samples counted and names each total."""

    workers: tuple[str, ...] = CONSUMERS  # the services whose worker is read

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.totals: Counter[Any] = Counter()
        self._last: dict[tuple[str, Any], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"chaos-{type(self).__name__}", daemon=True)

    def key(self, sample: str, labels: dict[str, str]) -> Any:
        """The total a sample adds to, or None for a sample not counted."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._poll(baseline=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self._poll()

    def _poll(self, *, baseline: bool = False) -> None:
        for service in self.workers:
            try:
                samples = self.stack.metrics(self.stack.worker_url(service))
            except (requests.RequestException, ValueError):
                continue  # restarting
            values: Counter[Any] = Counter()
            for (sample, labels), value in samples.items():
                if (key := self.key(sample, dict(labels))) is not None:
                    values[key] += value
            for key, value in values.items():
                last = self._last.get((service, key), 0.0)
                if not baseline:
                    self.totals[key] += value - last if value >= last else value
                self._last[(service, key)] = value


class DeliveryTally(WorkerCounters):
    """Redeliveries and skipped duplicates seen by every consumer."""

    NAMES = ("loanbridge_events_redelivered_total", "loanbridge_events_duplicates_total")

    def key(self, sample: str, labels: dict[str, str]) -> str | None:
        return sample if sample in self.NAMES else None

    @property
    def redelivered(self) -> int:
        return int(self.totals["loanbridge_events_redelivered_total"])

    @property
    def duplicates(self) -> int:
        return int(self.totals["loanbridge_events_duplicates_total"])


class PublishTimes(WorkerCounters):
    """How long every publish with confirms took (the relays' batches, the consumers' retries and dead letters),
    from the ``loanbridge_events_publish_seconds`` histogram on every worker's /metrics: totals by (outcome, bucket
    bound or "count")."""

    NAME = "loanbridge_events_publish_seconds"
    workers = tuple(services.SERVICE_ORDER)

    def key(self, sample: str, labels: dict[str, str]) -> tuple[str, str] | None:
        if sample == f"{self.NAME}_bucket":
            return labels["outcome"], str(float(labels["le"]))
        if sample == f"{self.NAME}_count":
            return labels["outcome"], "count"
        return None

    def count(self, outcome: str | None = None) -> int:
        return int(sum(n for (o, le), n in self.totals.items() if le == "count" and outcome in (None, o)))

    def within(self, seconds: float) -> int:
        """Publishes that took at most ``seconds`` (a bucket bound of the histogram)."""
        return int(sum(n for (_o, le), n in self.totals.items() if le == str(float(seconds))))

    def past(self, seconds: float) -> int:
        return self.count() - self.within(seconds)

    def slowest(self) -> str:
        """The histogram's bound that every publish was within, as a figure."""
        bounds = sorted({float(le) for (_o, le) in self.totals if le != "count"})
        for bound in bounds:
            if self.within(bound) == self.count():
                return f"<= {bound:g} s"
        return "unknown"


def retry_and_dead_letter_depths(stack: Stack) -> dict[str, int]:
    """Ready messages in every consumer's retry hold queues and dead-letter queue."""
    depths = {}
    for service in CONSUMERS:
        settings_delays = stack.env.get("LOANBRIDGE_EVENTS_RETRY_DELAYS", "1,5,30,120").split(",")
        for delay in settings_delays:
            name = f"{service}.events.retry.{round(float(delay) * 1000)}ms"
            depths[name] = stack.queue_depth(name)
        depths[f"{service}.events.dlq"] = stack.queue_depth(f"{service}.events.dlq")
    return depths


def wait_drained(stack: Stack, *, timeout: float, also: Callable[[], bool] = lambda: True) -> float:
    """Wait until every outbox, queue and retry queue is empty (and ``also`` holds); return the seconds taken."""
    began = time.monotonic()

    def empty() -> bool:
        try:
            holds = stack.drained() and not any(
                depth for name, depth in retry_and_dead_letter_depths(stack).items() if ".retry." in name
            )
            return holds and also()
        except Exception:  # a server still recovering
            return False

    wait_until(empty, timeout=timeout, interval=1.0, message="every outbox and queue drained")
    return time.monotonic() - began


# --- the checker ------------------------------------------------------------------------------------------------
@dataclass
class Reconciliation:
    """Jepsen's total-queue checker, applied to leads: what was acknowledged against what every service holds."""

    attempted: int
    acknowledged: int
    statuses: Counter[str]
    in_intake: int
    lost_intake: list[str]
    lost_workflow: list[str]
    lost_reporting: list[str]
    unexpected: list[str]
    unexpected_unexplained: list[str]
    duplicate_external_refs: int
    duplicate_cases: int
    duplicate_lead_events: int
    duplicate_assignments: int
    dead_lettered: int

    @property
    def lost(self) -> int:
        return len(set(self.lost_intake) | set(self.lost_workflow) | set(self.lost_reporting))

    @property
    def applied_twice(self) -> int:
        return (
            self.duplicate_external_refs
            + self.duplicate_cases
            + self.duplicate_lead_events
            + self.duplicate_assignments
            + self.dead_lettered
        )

    def lines(self) -> list[str]:
        return [
            f"requests {self.attempted}, acknowledged (2xx) {self.acknowledged}; answers {dict(self.statuses)}",
            f"leads in intake {self.in_intake}; lost {self.lost} (intake {len(self.lost_intake)}, workflow case "
            f"{len(self.lost_workflow)}, reporting facts {len(self.lost_reporting)})",
            f"unexpected {len(self.unexpected)} (of which with a definite failure answer: "
            f"{len(self.unexpected_unexplained)})",
            f"applied twice {self.applied_twice} (external_ref {self.duplicate_external_refs}, cases "
            f"{self.duplicate_cases}, lead events {self.duplicate_lead_events}, assignments "
            f"{self.duplicate_assignments}, dead-lettered {self.dead_lettered})",
        ]


def reconcile(stack: Stack, partner: Partner, outcomes: list[Outcome]) -> Reconciliation:
    """Compare the clients' outcomes with intake, workflow and reporting (after the stack drained)."""
    by_ref = {outcome.external_ref: outcome for outcome in outcomes}
    acknowledged = {outcome.external_ref: outcome.lead_id for outcome in outcomes if outcome.acknowledged}
    rows = stack.sql("intake", "SELECT external_ref, id FROM leads WHERE channel = :c", c=partner.channel)
    intake = {ref: lead_id for ref, lead_id in rows}
    refs = Counter(ref for ref, _ in rows)
    lead_ids = set(intake.values())
    cases = Counter(
        row[0] for row in stack.sql("workflow", "SELECT id FROM cases WHERE channel = :c", c=partner.channel)
    )
    facts = {
        row[0]
        for row in stack.sql(
            "reporting",
            "SELECT lead_id FROM lead_facts WHERE channel = :c AND business_day IS NOT NULL",
            c=partner.channel,
        )
    }
    lead_events = _repeated_subjects(stack, "reporting", "event_archive", "event_type", "intake.lead.created")
    assignments = _repeated_subjects(stack, "workflow", "outbox", "event_type", "workflow.case.assigned")
    unexpected = sorted(set(intake) - set(acknowledged))
    dead = sum(depth for name, depth in retry_and_dead_letter_depths(stack).items() if name.endswith(".dlq"))
    return Reconciliation(
        attempted=len(outcomes),
        acknowledged=len(acknowledged),
        statuses=Counter(str(outcome.status or "no answer") for outcome in outcomes),
        in_intake=len(intake),
        lost_intake=sorted(ref for ref in acknowledged if ref not in intake),
        lost_workflow=sorted(lead for lead in lead_ids if lead not in cases),
        lost_reporting=sorted(lead for lead in lead_ids if lead not in facts),
        unexpected=unexpected,
        unexpected_unexplained=[ref for ref in unexpected if by_ref[ref].status not in NO_ANSWER],
        duplicate_external_refs=sum(1 for count in refs.values() if count > 1),
        duplicate_cases=sum(1 for count in cases.values() if count > 1),
        duplicate_lead_events=len(lead_events & lead_ids),
        duplicate_assignments=len(assignments & lead_ids),
        dead_lettered=dead,
    )


def resolve_unexpected(result: Reconciliation, load: LoadGenerator) -> dict[str, int | None]:
    """Retry every unexpected lead with its body and external_ref, as its partner would: the answer must be the
    lead already stored (a lead whose COMMIT reached the server while its client was told 503 exists all the
    same). Returns the status of each retry."""
    resolved: dict[str, int | None] = {}
    for ref in result.unexpected:
        body = load.bodies[int(ref.rsplit("-", 1)[1])]
        try:
            resolved[ref] = load.partner.api.post("/api/intake/v1/leads", json=body).status_code
        except requests.RequestException:
            resolved[ref] = None
    return resolved


def processed(stack: Stack, lead_id: str) -> bool:
    """The lead is in intake, workflow has its case and reporting its lead facts with a business day."""
    return bool(
        stack.sql("intake", "SELECT COUNT(*) FROM leads WHERE id = :id", id=lead_id)[0][0]
        and stack.sql("workflow", "SELECT COUNT(*) FROM cases WHERE id = :id", id=lead_id)[0][0]
        and stack.sql(
            "reporting",
            "SELECT COUNT(*) FROM lead_facts WHERE lead_id = :id AND business_day IS NOT NULL",
            id=lead_id,
        )[0][0]
    )


def canary(partner: Partner, stack: Stack, body: dict[str, Any], *, since: float, timeout: float = 60) -> float:
    """Post one lead and follow it end to end (intake, workflow case, reporting fact); return the seconds from
    ``since`` (a fault healed) to the lead processed, or infinity past ``timeout``. A request refused just after
    healing (a pooled connection found dead costs one 503) is sent again with the same external_ref."""
    deadline = since + timeout
    lead_id = None
    while lead_id is None and time.monotonic() < deadline:
        try:
            answer = partner.api.post("/api/intake/v1/leads", json=body)
            if answer.status_code in (200, 201):
                lead_id = answer.json()["id"]
                break
        except requests.RequestException:
            pass
        time.sleep(0.5)
    while lead_id is not None and time.monotonic() < deadline:
        try:
            if processed(stack, lead_id):
                return time.monotonic() - since
        except Exception:  # a query on a server still recovering: look again
            pass
        time.sleep(0.5)  # each look opens three connections: no busier than that on a loaded machine
    return float("inf")


def _repeated_subjects(stack: Stack, service: str, table: str, column: str, value: str) -> set[str]:
    rows = stack.sql(
        service, f"SELECT subject FROM {table} WHERE {column} = :v GROUP BY subject HAVING COUNT(*) > 1", v=value
    )
    return {row[0] for row in rows}


def error_rate(outcomes: list[Outcome], nemesis: Nemesis) -> tuple[int, int]:
    """(requests sent during a fault window, of which not acknowledged)."""
    during = [outcome for outcome in outcomes if nemesis.during(outcome.started)]
    return len(during), sum(1 for outcome in during if not outcome.acknowledged)


# --- direct publishing (poison and unroutable events) -----------------------------------------------------------
def publish_envelopes(stack: Stack, envelopes: list[Envelope], *, batch: int = 500) -> None:
    """Publish envelopes straight to the events exchange of the stack's broker, with confirms."""
    connection = connect(stack.broker_url(via_proxy=False))
    try:
        publisher = ConfirmingPublisher(connection, timeout=30)
        for first in range(0, len(envelopes), batch):
            publisher.publish(
                [
                    Outgoing(
                        exchange=EXCHANGE,
                        routing_key=envelope.routing_key,
                        body=envelope.to_json().encode(),
                        message_id=envelope.id,
                        event_type=envelope.type,
                        content_type=MESSAGE_CONTENT_TYPE,
                    )
                    for envelope in envelopes[first : first + batch]
                ]
            )
    finally:
        connection.release()


def spend_event(channel: str, amount: str) -> Envelope:
    """An ``intake.channel.spend_recorded`` event (reporting alone consumes it); a non-numeric ``amount`` makes
    reporting's handler fail on every delivery: a poison event in a valid envelope."""
    return Envelope.new(
        source="intake",
        event_type="intake.channel.spend_recorded",
        subject=channel,
        sequence=1,
        data={"channel": channel, "month": "2026-01", "amount": amount},
        correlation_id=str(uuid.uuid4()),
        causation_id=None,
        actor="chaos",
    )


def answered_by(stack: Stack, service: str, endpoint: str, *, status: int, since: float) -> list[float]:
    """Seconds the service itself took for its answers ``status`` on ``endpoint`` (its ``http_request`` log
    lines) since the wall-clock instant ``since``: the client's latency less the queueing in front of the app."""
    times = []
    with open(stack.var_dir / "log" / f"{service}-web.log", encoding="utf-8") as log:
        for line in log:
            if not line.startswith("{") or '"http_request"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            at = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()
            if entry.get("endpoint") == endpoint and entry.get("status") == status and at >= since:
                times.append(entry["duration_ms"] / 1000)
    return times


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def print_figures(title: str, lines: Iterable[str]) -> None:
    print(f"\n=== chaos: {title} ===")
    for line in lines:
        print(f"  {line}")


def partner_without_quota(stack: Stack, admin: Any, name: str) -> Partner:
    """A partner whose quota is lifted out of the way of the offered rate. After a database crash a process's
    pool may still hold a dead connection, which costs one request a 503: that request is retried."""
    from tests.integration.support import register_partner

    for attempt in range(5):
        try:
            partner = register_partner(stack, admin, f"{name}{attempt or ''}")
            lifted = admin.put(f"/api/intake/v1/partners/{partner.partner_id}/quota", json={"per_minute": 100_000})
            assert lifted.status_code == 200, lifted.text
            return partner
        except AssertionError as failed:
            if "unavailable" not in str(failed) or attempt == 4:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


def run_figures(outcomes: list[Outcome]) -> list[str]:
    latencies = [outcome.latency * 1000 for outcome in outcomes if outcome.status is not None]
    return [
        f"latency ms: p50 {percentile(latencies, 50):.0f}, p99 {percentile(latencies, 99):.0f}, "
        f"max {max(latencies, default=0):.0f}"
    ]
