"""Support of the key-rotation run (``test_keys.py``): the stack's secrets file, a rolling restart of every process
that holds PII keys (a web reloaded with SIGHUP, a worker stopped and started), a load of partner leads of which
some repeat an earlier person, and the checks of what is left on an old KEK or an old data key.

The local distributed mode takes its secrets from ``var/secrets.env`` (``loanbridge up`` passes them on; a
restarted worker and every ``loanbridge`` command read the file; a web re-reads it on SIGHUP), so a new KEK is
deployed by writing that file, as an operator of that mode would.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from loanbridge.common import service as services
from loanbridge.common import stack as stacks
from loanbridge.common.pii.crypto import DecryptionError, KeyEncryptionKey, decode_key
from loanbridge.common.pii.vault import SubjectKey
from loanbridge.common.testing.synthetic import SyntheticPeople
from loanbridge.common.testing.waiting import wait_until
from tests.chaos.harness import Outcome, Window, thread_session
from tests.integration import leads
from tests.integration.support import Partner, Stack

# The services whose processes hold PII keys: those rotate-keys re-wraps keys for.
PII_SERVICES = tuple(name for name in services.SERVICE_ORDER if services.get(name).rewrap_keys is not None)
CIPHERTEXT = re.compile(r"v1\.([0-9a-f]{16})\.")  # a field ciphertext (loanbridge.common.pii.crypto) and its key id
CUSTOMER_FIELDS = ("name_enc", "mobile_enc", "id_number_enc", "address_enc")


# --- secrets and restarts ---------------------------------------------------------------------------------------
def secrets(stack: Stack) -> dict[str, str]:
    """The stack's ``var/secrets.env`` (names without the prefix)."""
    return stacks.read_secrets(stack.var_dir / "secrets.env")


def write_secrets(stack: Stack, values: dict[str, str]) -> None:
    stacks.write_secrets(stack.var_dir / "secrets.env", values)


def kek_id(text: str) -> str:
    return KeyEncryptionKey(decode_key("PII_KEK", text)).id


def reload_web(stack: Stack, name: str, *, timeout: float = 300) -> None:
    """SIGHUP to a web's gunicorn master (its pid file names it: ``loanbridge web`` execs gunicorn); wait until
    every worker is a new one and the web answers its readiness probe."""
    master = stack.pid(name)
    assert master is not None, f"{name} is not running"
    old = stacks.children_of(master)
    os.kill(master, signal.SIGHUP)
    url = stack.process(name).ready_url
    state = "signalled"

    def reloaded() -> bool:
        nonlocal state
        now = stacks.children_of(master)
        state = f"{len(now & old)} old and {len(now - old)} new workers"
        if len(now) < stack.web_workers or now & old:
            return False
        try:
            answer = requests.get(url, timeout=10)
        except requests.RequestException as exc:
            state += f", readiness {type(exc).__name__}"
            return False
        state += f", readiness {answer.status_code}"
        return answer.status_code == 200

    try:
        wait_until(reloaded, timeout=timeout, interval=0.5, message=f"{name} reloaded")
    except AssertionError as exc:
        raise AssertionError(f"{name} not reloaded after {timeout:.0f} s: {state}") from exc
    assert stack.pid(name) == master, f"{name}'s master changed: it was restarted, not reloaded"


def restart_worker(stack: Stack, name: str) -> float:
    """Stop a worker (SIGTERM: it finishes what it holds) and start it again; returns the seconds it took to
    stop. Its events wait in their queues and outboxes meanwhile: no client request depends on a worker."""
    began = time.monotonic()
    stacks.stop(stack.layout, name)
    stopped = time.monotonic() - began
    stack.restart(name)
    return stopped


def rolling_restart(stack: Stack, step: str, report: Callable[[str], None] = lambda _line: None) -> list[Window]:
    """Every process holding PII keys, one at a time: each web reloaded (SIGHUP), each worker restarted."""
    windows = []
    for service in PII_SERVICES:
        for process in (f"{service}-web", f"{service}-worker"):
            window = Window(f"{step}: {process}", time.monotonic())
            if process.endswith("-web"):
                reload_web(stack, process)
            else:
                window.what += f" (stopped in {restart_worker(stack, process):.1f} s)"
            window.healed = time.monotonic()
            windows.append(window)
            report(f"{window.what}: {window.healed - window.began:.1f} s")
    return windows


# --- load -------------------------------------------------------------------------------------------------------
@dataclass
class LeadOutcome(Outcome):
    """One lead request's outcome, with the person it was for and what dedupe answered."""

    person: int = 0  # the index of the lead that introduced this person
    repeat: bool = False
    customer_id: str | None = None
    duplicate_outcome: str | None = None


class RepeatingLoad:
    """Partner leads through the gateway at ``rate`` per second on a fixed schedule (open loop), until stopped or
    ``limit`` are sent. Every ``repeat_every``-th lead repeats the name, ID number and mobile of a lead answered
    shortly before (one of the last ``recent`` acknowledged): the same person again, so dedupe must link it to that
    lead's customer. The others are new people from ``SyntheticPeople``."""

    def __init__(
        self,
        partner: Partner,
        *,
        rate: float,
        limit: int,
        prefix: str,
        seed: int,
        repeat_every: int = 5,
        recent: int = 200,
        timeout: float = 15,
    ) -> None:
        self.partner, self.rate, self.limit, self.prefix, self.timeout = partner, rate, limit, prefix, timeout
        self.repeat_every, self.recent = repeat_every, recent
        self.rng, self.people = random.Random(seed), SyntheticPeople(seed)
        self.bodies: dict[int, dict[str, Any]] = {}
        self.outcomes: list[LeadOutcome] = []
        self.started_at = self.finished_at = 0.0
        self.lag = 0.0  # the most a request was sent after its scheduled time (all threads busy: the system lags)
        self.unsent = 0
        self._answered: list[int] = []  # acknowledged new-person leads, in answer order
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._local = threading.local()
        self._thread = threading.Thread(target=self._run, name="chaos-keys-load", daemon=True)

    def start(self) -> RepeatingLoad:
        self.started_at = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> list[LeadOutcome]:
        self._stop.set()
        self._thread.join()
        return self.outcomes

    @property
    def scheduled(self) -> int:
        return len(self.bodies)

    def _run(self) -> None:
        futures: list[Future[LeadOutcome]] = []
        pool = ThreadPoolExecutor(max_workers=max(32, int(self.rate * 2)))
        for index in range(self.limit):
            due = self.started_at + index / self.rate
            if self._stop.wait(max(0.0, due - time.monotonic())):
                break
            body, person, repeat = self._next(index)
            futures.append(pool.submit(self._post, index, body, person, repeat))
        # Leads still queued for a free thread when the run stops were never sent: they are not part of it.
        pool.shutdown(wait=True, cancel_futures=True)
        self.outcomes = [future.result() for future in futures if not future.cancelled()]
        self.unsent = sum(1 for future in futures if future.cancelled())
        self.finished_at = time.monotonic()

    def _next(self, index: int) -> tuple[dict[str, Any], int, bool]:
        ref = f"{self.prefix}-{index}"
        with self._lock:
            candidates = self._answered[-self.recent :]
        if index % self.repeat_every == self.repeat_every - 1 and candidates:
            person = self.rng.choice(candidates)
            first = self.bodies[person]
            same = {"name": first["name"], "mobile": first["mobile"], "id_number": first["id_number"]}
            body = leads.lead(self.rng, external_ref=ref, **same)
            self.bodies[index] = body
            return body, person, True
        body = leads.lead(
            self.rng, external_ref=ref, mobile=self.people.next_mobile(), id_number=self.people.next_id_number()
        )
        self.bodies[index] = body
        return body, index, False

    def _session(self) -> requests.Session:
        return thread_session(self._local, self.partner)

    def _post(self, index: int, body: dict[str, Any], person: int, repeat: bool) -> LeadOutcome:
        sent = time.monotonic()
        self.lag = max(self.lag, sent - (self.started_at + index / self.rate))
        try:
            answer = self._session().post(
                f"{self.partner.api.base}/api/intake/v1/leads", json=body, timeout=self.timeout
            )
        except requests.RequestException:
            return LeadOutcome(index, body["external_ref"], sent, time.monotonic() - sent, None, person=person)
        latency = time.monotonic() - sent
        try:
            payload = answer.json()
        except ValueError:
            payload = {}
        ok = 200 <= answer.status_code < 300
        if ok and not repeat:
            with self._lock:
                self._answered.append(index)
        return LeadOutcome(
            index,
            body["external_ref"],
            sent,
            latency,
            answer.status_code,
            lead_id=payload.get("id") if ok else None,
            code=payload.get("code") if not ok else None,
            person=person,
            repeat=repeat,
            customer_id=payload.get("customer_id") if ok else None,
            duplicate_outcome=payload.get("duplicate_outcome") if ok else None,
        )


# --- dedupe -----------------------------------------------------------------------------------------------------
@dataclass
class Dedupe:
    """What dedupe answered, and what intake holds, against who each lead was for."""

    repeats: int = 0
    repeats_wrong: list[str] = field(default_factory=list)  # answered another customer, or "new_customer"
    new_people: int = 0
    new_people_known: int = 0  # a fresh person who matched a customer of an earlier run (a synthetic collision)
    new_people_wrong: list[str] = field(default_factory=list)
    people_split: list[int] = field(default_factory=list)  # one person, several customers in intake
    people_merged: list[str] = field(default_factory=list)  # one customer, several people

    @property
    def wrong(self) -> int:
        return len(self.repeats_wrong) + len(self.new_people_wrong) + len(self.people_split) + len(self.people_merged)


def check_dedupe(stack: Stack, partner: Partner, outcomes: list[LeadOutcome]) -> Dedupe:
    """Each repeat must have been answered with its person's customer (and not as a new customer); each new person
    with ``new_customer`` (unless a customer of an earlier run has the same synthetic number); and in intake every
    person of this run is exactly one customer, no customer two people."""
    result = Dedupe()
    by_index = {outcome.index: outcome for outcome in outcomes}
    ours = {row[0] for row in stack.sql("intake", "SELECT id FROM customers WHERE channel = :c", c=partner.channel)}
    for outcome in outcomes:
        if not outcome.acknowledged:
            continue
        if outcome.repeat:
            result.repeats += 1
            first = by_index[outcome.person]
            if outcome.customer_id != first.customer_id or outcome.duplicate_outcome == "new_customer":
                result.repeats_wrong.append(f"{outcome.external_ref}: {outcome.duplicate_outcome}")
        else:
            result.new_people += 1
            if outcome.customer_id not in ours:
                result.new_people_known += 1
            elif outcome.duplicate_outcome != "new_customer":
                result.new_people_wrong.append(f"{outcome.external_ref}: {outcome.duplicate_outcome}")
    stored = dict(
        stack.sql("intake", "SELECT external_ref, customer_id FROM leads WHERE channel = :c", c=partner.channel)
    )
    customers_of: dict[int, set[str]] = {}
    people_of: dict[str, set[int]] = {}
    for outcome in outcomes:
        customer = stored.get(outcome.external_ref)
        if customer is not None:
            customers_of.setdefault(outcome.person, set()).add(customer)
            people_of.setdefault(customer, set()).add(outcome.person)
    result.people_split = sorted(person for person, found in customers_of.items() if len(found) > 1)
    result.people_merged = sorted(customer for customer, people in people_of.items() if len(people) > 1)
    return result


# --- what is left on old keys -----------------------------------------------------------------------------------
@dataclass
class KeysLeft:
    """Every key-id column and every field ciphertext of every service's database, after the rotation."""

    kek_ids: dict[str, Counter[str]] = field(default_factory=dict)  # "service.table" -> {kek id: rows}
    data_keys: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # service -> (all, retired, old active)
    ciphertexts: dict[str, Counter[str]] = field(default_factory=dict)  # "service.table.column" -> current/retired/…
    subject_keys: Counter[str] = field(default_factory=Counter)  # intake's customer keys: rekeyed, old, …
    sealed_values: Counter[str] = field(default_factory=Counter)  # intake's s1 values: open, fail
    data_keys_not_opening: int = 0  # under the new KEK alone
    documents: int = 0
    imports: int = 0

    def old_kek_rows(self, kek: str) -> int:
        return sum(count for ids in self.kek_ids.values() for key, count in ids.items() if key != kek)

    @property
    def on_old_data_keys(self) -> int:
        return sum(count for kinds in self.ciphertexts.values() for kind, count in kinds.items() if kind != "current")

    def lines(self, kek: str) -> list[str]:
        walls = ", ".join(f"{where} {dict(ids)}" for where, ids in sorted(self.kek_ids.items()))
        return [
            f"rows wrapped by a KEK other than the new one ({kek}): {self.old_kek_rows(kek)}; key-id columns: {walls}",
            "data keys (all, retired, still active from before the rotation): "
            + ", ".join(f"{service} {counts}" for service, counts in sorted(self.data_keys.items()))
            + f"; not opening under the new KEK alone: {self.data_keys_not_opening}",
            "field ciphertexts by data key: "
            + ", ".join(f"{where} {dict(kinds)}" for where, kinds in sorted(self.ciphertexts.items())),
            f"intake customer keys {dict(self.subject_keys)}; sealed values {dict(self.sealed_values)}; "
            f"documents {self.documents}, imports {self.imports} (none in this run; not checked further)",
        ]


def _kek_columns(stack: Stack, service: str) -> list[str]:
    rows = stack.sql(
        service,
        "SELECT TABLE_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_NAME = 'kek_id'",
    )
    return sorted(row[0] for row in rows)


def _text_columns(stack: Stack, service: str) -> list[tuple[str, str]]:
    rows = stack.sql(
        service,
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
        "AND DATA_TYPE IN ('char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'json')",
    )
    return sorted((row[0], row[1]) for row in rows)


def keys_left(stack: Stack, *, kek_text: str, since: datetime) -> KeysLeft:
    """What still depends on an old key: rows of every ``kek_id`` column, data keys from before ``since`` (naive
    UTC, just before ``rotate-keys --data-keys``) still active, every field ciphertext (``v1.<key id>.``, found in
    any text column) by whether its data key is the active one, and intake's customer keys (re-keyed after
    ``since``) with every value they seal opened under the new KEK alone."""
    left, kek = KeysLeft(), KeyEncryptionKey(decode_key("PII_KEK", kek_text))
    for service in services.SERVICE_ORDER:
        for table in _kek_columns(stack, service):
            rows = stack.sql(service, f"SELECT kek_id, COUNT(*) FROM {table} GROUP BY kek_id")
            left.kek_ids[f"{service}.{table}"] = Counter({kek: count for kek, count in rows})
        keys = stack.sql(service, "SELECT id, retired_at, created_at, wrapped_key FROM data_keys")
        for row in keys:
            try:
                kek.unwrap(row[3], row[0])
            except DecryptionError:
                left.data_keys_not_opening += 1
        active, known = {row[0] for row in keys if row[1] is None}, {row[0] for row in keys}
        left.data_keys[service] = (
            len(keys),
            sum(1 for row in keys if row[1] is not None),
            sum(1 for row in keys if row[1] is None and row[2] < since),
        )
        for table, column in _text_columns(stack, service):
            query = f"SELECT `{column}` FROM `{table}` WHERE `{column}` REGEXP 'v1[.][0-9a-f]{{16}}[.]'"
            kinds: Counter[str] = Counter()
            for (value,) in stack.sql(service, query):
                for key_id in CIPHERTEXT.findall(str(value)):
                    kinds["current" if key_id in active else "retired" if key_id in known else "unknown"] += 1
            if kinds:
                left.ciphertexts[f"{service}.{table}.{column}"] = kinds
    _check_subject_keys(stack, left, kek, since)
    left.documents = stack.sql("intake", "SELECT COUNT(*) FROM documents WHERE erased_at IS NULL")[0][0]
    left.imports = stack.sql("intake", "SELECT COUNT(*) FROM imports")[0][0]
    return left


def _check_subject_keys(stack: Stack, left: KeysLeft, kek: KeyEncryptionKey, since: datetime) -> None:
    subject: dict[str, SubjectKey] = {}
    for customer_id, wrapped, created_at in stack.sql(
        "intake", "SELECT customer_id, wrapped_key, created_at FROM customer_keys"
    ):
        left.subject_keys["created or re-keyed after the rotation" if created_at >= since else "older"] += 1
        try:
            subject[customer_id] = SubjectKey(customer_id, kek.unwrap(wrapped, customer_id))
        except DecryptionError:
            left.subject_keys["not opening under the new KEK"] += 1

    def seal_opens(customer_id: str, field_name: str, token: str) -> None:
        key = subject.get(customer_id)
        if key is None:
            left.sealed_values["of a customer without a key"] += 1
            return
        try:
            key.open(field_name, token)
            left.sealed_values["open"] += 1
        except DecryptionError:
            left.sealed_values["do not open: an old key"] += 1

    columns = ", ".join(CUSTOMER_FIELDS)
    for row in stack.sql("intake", f"SELECT id, {columns} FROM customers"):
        for column, value in zip(CUSTOMER_FIELDS, row[1:], strict=True):
            if value:
                seal_opens(row[0], column.removesuffix("_enc"), value)
    for customer_id, note in stack.sql(
        "intake", "SELECT customer_id, note_enc FROM followups WHERE note_enc IS NOT NULL"
    ):
        seal_opens(customer_id, "followup.note", note)
    for customer_id, form in stack.sql("intake", "SELECT customer_id, form FROM leads WHERE form LIKE '%s1.%'"):
        for name, value in json.loads(form).items():
            if isinstance(value, str) and value.startswith("s1."):
                seal_opens(customer_id, f"form.{name}", value)
