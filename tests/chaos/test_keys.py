"""The KEK and then the data keys rotated while partner leads arrive (issue 10, item 7): no request fails, nothing
is left on the old KEK or an old data key, and dedupe links every repeated person to their customer throughout.

The rotation, as docs/intake.md describes it, each rolling restart one process at a time (a web reloaded with
SIGHUP, which keeps its socket; a worker stopped and started):

1. stage: the new KEK as ``LOANBRIDGE_PII_KEK_NEXT`` (it opens keys, wraps none), rolling restart;
2. switch: the new KEK as ``LOANBRIDGE_PII_KEK``, the old as ``LOANBRIDGE_PII_KEK_PREVIOUS``, rolling restart;
3. ``loanbridge rotate-keys`` (re-wrap), then ``loanbridge rotate-keys --data-keys`` (new data keys, values
   re-encrypted);
4. the old KEK removed, rolling restart.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from loanbridge.common.pii.crypto import new_key_text
from loanbridge.common.testing.synthetic import mobile
from tests.chaos import harness, keys
from tests.chaos.harness import Window
from tests.integration.support import Api, Stack, password_token

T = TypeVar("T")
WARM_UP_SECONDS = 10.0
COOL_DOWN_SECONDS = 10.0
# About how long the four steps take on two shared cores; with --leads N the offered rate is lowered so that
# about N leads span them.
EXPECTED_SECONDS = 180.0


STARTED = time.monotonic()


def progress(message: str) -> None:
    """A line as the run goes (pytest -s shows it): where a slow run spends its time."""
    print(f"  [keys +{time.monotonic() - STARTED:.0f} s] {message}", flush=True)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def kek_of_keys_created_since(stack: Stack, instant: datetime) -> dict[str, int]:
    """Which KEK wrapped the customer keys intake created since ``instant`` (what its processes wrap with now)."""
    rows = stack.sql(
        "intake", "SELECT kek_id, COUNT(*) FROM customer_keys WHERE created_at >= :t GROUP BY kek_id", t=instant
    )
    return {kek: count for kek, count in rows}


def test_kek_and_data_keys_rotated_under_load_fail_no_request_and_leave_nothing_on_old_keys(
    chaos_stack: Stack, chaos_admin: Api
) -> None:
    stack = chaos_stack
    assert not [name for name in stack.env if name.startswith("LOANBRIDGE_PII_KEK")], (
        "the stack's processes must take their KEK from var/secrets.env"
    )
    load_before = os.getloadavg()
    partner = harness.partner_without_quota(stack, chaos_admin, "混沌-轮换密钥")
    # Something sealed with a data key in identity (a staff member's contacts) and in notify (a webhook secret).
    staff = chaos_admin.post(
        "/api/identity/v1/users",
        json={"username": "chaos-keys", "password": "chaos-keys-1", "display_name": "轮换", "roles": ["ops"],
              "mobile": mobile(random.Random(7)), "email": "keys@example.cn"},
    )  # fmt: skip
    assert staff.status_code == 201, staff.text
    hook = chaos_admin.post(
        "/api/notify/v1/webhooks",
        json={"name": "混沌-轮换", "url": "http://127.0.0.1:9/never", "event_types": ["workflow.loan.settled"]},
    )
    assert hook.status_code == 201, hook.text

    first = keys.secrets(stack)
    old_kek, new_kek = first["PII_KEK"], new_key_text()
    others = {name: value for name, value in first.items() if not name.startswith("PII_KEK")}
    old_id, new_id = keys.kek_id(old_kek), keys.kek_id(new_kek)
    offered = harness.rate()
    if os.environ.get("LOANBRIDGE_CHAOS_LEADS"):
        offered = min(offered, harness.scale(0) / EXPECTED_SECONDS)
    load = keys.RepeatingLoad(partner, rate=offered, limit=int(offered * 1200), prefix="g", seed=7007)
    steps: list[Window] = []
    restarts: list[Window] = []

    def step(name: str, action: Callable[[], T]) -> T:
        window = Window(name, time.monotonic())
        steps.append(window)
        progress(f"{name} ...")
        result = action()
        window.healed = time.monotonic()
        progress(f"{name}: {window.healed - window.began:.0f} s, {load.scheduled} leads due so far")
        return result

    load.start()
    progress(f"load started at {offered:.0f} leads/s (load average {load_before[0]:.1f})")
    time.sleep(WARM_UP_SECONDS)

    keys.write_secrets(stack, {**others, "PII_KEK": old_kek, "PII_KEK_NEXT": new_kek})
    restarts += step("1 stage the new KEK", lambda: keys.rolling_restart(stack, "stage", progress))
    staged_at = utc_now()
    time.sleep(3)
    wrapped_after_staging = kek_of_keys_created_since(stack, staged_at)

    keys.write_secrets(stack, {**others, "PII_KEK": new_kek, "PII_KEK_PREVIOUS": old_kek})
    restarts += step("2 switch to the new KEK", lambda: keys.rolling_restart(stack, "switch", progress))
    switched_at = utc_now()
    time.sleep(3)
    wrapped_after_switch = kek_of_keys_created_since(stack, switched_at)

    rewrapped = step("3a rotate-keys", lambda: stack.cli("rotate-keys", timeout=900))
    since = utc_now()
    replaced = step("3b rotate-keys --data-keys", lambda: stack.cli("rotate-keys", "--data-keys", timeout=1800))

    keys.write_secrets(stack, {**others, "PII_KEK": new_kek})
    restarts += step("4 remove the old KEK", lambda: keys.rolling_restart(stack, "retire", progress))
    time.sleep(COOL_DOWN_SECONDS)
    outcomes = load.stop()
    load_after = os.getloadavg()
    progress(f"load stopped: {len(outcomes)} leads; draining")

    drained = harness.wait_drained(stack, timeout=300)
    progress(f"drained in {drained:.0f} s; checking")
    result = harness.reconcile(stack, partner, outcomes)
    dedupe = keys.check_dedupe(stack, partner, outcomes)
    left = keys.keys_left(stack, kek_text=new_kek, since=since)
    progress("checked")
    # Under the new KEK alone, identity still signs (its signing key opens) and notify lists its webhooks.
    signed_in = password_token(stack.gateway, "chaos-keys", "chaos-keys-1")
    listed = chaos_admin.get("/api/notify/v1/webhooks")

    failed = [o for o in outcomes if not o.acknowledged]
    span = (load.finished_at or time.monotonic()) - load.started_at
    harness.print_figures(
        f"KEK and data keys rotated under load: {len(outcomes)} leads offered at {offered:.0f}/s",
        [
            f"offered {offered:.0f} leads/s for {span:.0f} s; sent {len(outcomes)} ({len(outcomes) / span:.1f}/s), "
            f"acknowledged {result.acknowledged / span:.1f}/s, {load.unsent} due but not sent when the run stopped; "
            f"the most a lead was sent after its time {load.lag:.1f} s (every client thread busy); "
            f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after",
            *result.lines(),
            f"failed requests (not 2xx) {len(failed)}: {dict(Counter(f'{o.status} {o.code}' for o in failed))}",
            *[_step_line(window, outcomes) for window in steps],
            f"restarts {len(restarts)} (one at a time; webs reloaded with SIGHUP, workers restarted), s: "
            + ", ".join(f"{w.what.split(': ')[1]} {w.healed - w.began:.1f}" for w in restarts),
            *[_failure_line(o, restarts, steps, load.started_at) for o in failed[:20]],
            f"customer keys wrapped after staging {_named(wrapped_after_staging, old_id, new_id)}, after the switch "
            f"{_named(wrapped_after_switch, old_id, new_id)}",
            f"rotate-keys: {_one_line(rewrapped)}; --data-keys: {_one_line(replaced)}",
            f"dedupe: {dedupe.repeats} repeated people answered, wrong {len(dedupe.repeats_wrong)}; "
            f"{dedupe.new_people} new people, wrong {len(dedupe.new_people_wrong)} (matched an earlier run's "
            f"synthetic number: {dedupe.new_people_known}); in intake one person in several customers "
            f"{len(dedupe.people_split)}, one customer for several people {len(dedupe.people_merged)}",
            *left.lines(new_id),
            f"drained {drained:.1f} s after the load stopped",
            *harness.run_figures(outcomes),
        ],
    )
    assert failed == [], Counter(f"{o.status} {o.code}" for o in failed)
    assert result.lost == 0, result.lines()
    assert result.unexpected == [], result.unexpected[:10]
    assert result.applied_twice == 0, result.lines()
    assert dedupe.repeats > 0 and dedupe.wrong == 0, (dedupe.repeats_wrong[:5], dedupe.new_people_wrong[:5])
    assert set(wrapped_after_staging) <= {old_id}, "a staged KEK wrapped a key"
    assert wrapped_after_switch and set(wrapped_after_switch) == {new_id}, "a process still wraps with the old KEK"
    assert left.old_kek_rows(new_id) == 0, left.kek_ids
    assert left.data_keys_not_opening == 0
    assert all(old_active == 0 for _all, _retired, old_active in left.data_keys.values()), left.data_keys
    assert left.on_old_data_keys == 0, left.ciphertexts
    assert set(left.subject_keys) == {"created or re-keyed after the rotation"}, left.subject_keys
    assert set(left.sealed_values) <= {"open"}, left.sealed_values
    assert signed_in and listed.status_code == 200 and listed.json()["items"], listed.text


def _step_line(window: Window, outcomes: list[keys.LeadOutcome]) -> str:
    inside = [o for o in outcomes if window.holds(o.started)]
    latencies = [o.latency * 1000 for o in inside if o.status is not None]
    repeats = sum(1 for o in inside if o.repeat and o.acknowledged)
    return (
        f"step {window.what}: {window.healed - window.began:.1f} s, {len(inside)} requests "
        f"({sum(1 for o in inside if not o.acknowledged)} failed, {repeats} repeated people), latency ms p50 "
        f"{harness.percentile(latencies, 50):.0f} p99 {harness.percentile(latencies, 99):.0f} "
        f"max {max(latencies, default=0):.0f}"
    )


def _failure_line(outcome: keys.LeadOutcome, restarts: list[Window], steps: list[Window], began: float) -> str:
    during = next((w.what for w in restarts if w.holds(outcome.started)), None)
    during = during or next((w.what for w in steps if w.holds(outcome.started)), "no step")
    return (
        f"failed at {outcome.started - began:.1f} s: {outcome.status} {outcome.code} after {outcome.latency:.1f} s, "
        f"during {during}"
    )


def _named(counts: dict[str, int], old_id: str, new_id: str) -> dict[str, Any]:
    return {{old_id: "old", new_id: "new"}.get(kek, kek): count for kek, count in counts.items()}


def _one_line(output: str) -> str:
    return "; ".join(line.strip() for line in output.splitlines() if line.strip())
