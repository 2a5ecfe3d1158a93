"""Tasks and timers: the first-contact SLA of ``assigned``, follow-ups on a cadence by grade, SLA deadlines on the
business calendar, and overdue tasks firing exactly once however many workers run."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock, metrics
from loanbridge.common.runtime import Runtime
from loanbridge.common.tables import outbox
from loanbridge.workflow import orm
from loanbridge.workflow.handlers import tasks

API = "/api/workflow/v1"


def shanghai(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=clock.business_timezone()).astimezone(UTC)


def _task(suite: Any, case: dict[str, Any], kind: str) -> dict[str, Any]:
    [task] = [task for task in suite.tasks(case["id"]) if task["kind"] == kind]
    return task


def test_an_assigned_case_gets_a_first_contact_task_due_within_four_working_hours(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")  # Monday 10:00

    task = _task(suite, case, "first_contact")

    assert clock.as_utc(task["due_at"]) == shanghai(2026, 11, 30, 14)
    [created] = [event for event in suite.events("workflow.task.created") if event.data["kind"] == "first_contact"]
    assert (created.data["assignee_id"], created.data["due_at"]) == ("sales-zhang", "2026-11-30T06:00:00Z")


def test_the_first_contact_sla_skips_the_national_day_holiday(suite: Any, fixed_clock: Any) -> None:
    fixed_clock.set(shanghai(2026, 9, 30, 16))

    case = suite.lead(submitted_by="sales-zhang")

    assert clock.as_utc(_task(suite, case, "first_contact")["due_at"]) == shanghai(2026, 10, 8, 11)


def test_a_follow_up_in_two_working_days_counts_the_make_up_saturday_of_2026_10_10(
    suite: Any, fixed_clock: Any
) -> None:
    fixed_clock.set(shanghai(2026, 10, 9, 10))
    case = suite.lead(submitted_by="sales-zhang")
    suite.deliver(suite.graded(case, "A"))

    suite.deliver(suite.followup(case, user_id="sales-zhang"))

    assert clock.as_utc(_task(suite, case, "followup")["due_at"]) == shanghai(2026, 10, 12, 18)


def test_a_deadline_in_2027_is_computed_on_weekends_alone_and_raises_the_warning_metric(
    suite: Any, fixed_clock: Any
) -> None:
    fixed_clock.set(shanghai(2027, 3, 5, 10))  # a Friday
    case = suite.lead(submitted_by="sales-zhang")
    suite.deliver(suite.graded(case, "A"))

    suite.deliver(suite.followup(case, user_id="sales-zhang"))

    assert clock.as_utc(_task(suite, case, "followup")["due_at"]) == shanghai(2027, 3, 9, 18)
    body, _ = metrics.render()
    assert b'loanbridge_calendar_year_missing{year="2027"} 1.0' in body


def test_follow_up_cadence_follows_the_grade_and_moves_when_the_grade_changes(suite: Any, fixed_clock: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")  # Monday 2026-11-30 10:00
    suite.deliver(suite.followup(case, user_id="sales-zhang"))
    default_b = clock.as_utc(_task(suite, case, "followup")["due_at"])

    fixed_clock.advance(timedelta(minutes=1))
    suite.deliver(suite.graded(case, "A"))
    graded_a = clock.as_utc(_task(suite, case, "followup")["due_at"])
    fixed_clock.advance(timedelta(minutes=1))
    suite.deliver(suite.graded(case, "C", previous="A"))
    graded_c = clock.as_utc(_task(suite, case, "followup")["due_at"])

    assert (default_b, graded_a, graded_c) == (
        shanghai(2026, 12, 7, 18),
        shanghai(2026, 12, 2, 18),
        shanghai(2026, 12, 14, 18),
    )


def test_a_follow_up_completes_first_contact_and_its_planned_time_sets_the_next_one(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")

    suite.deliver(suite.followup(case, user_id="sales-zhang", next_followup_at="2026-12-01T03:00:00Z"))

    assert [task["kind"] for task in suite.tasks(case["id"], status="done")] == ["first_contact"]
    assert clock.as_utc(_task(suite, case, "followup")["due_at"]) == datetime(2026, 12, 1, 3, tzinfo=UTC)


def test_the_same_follow_up_delivered_twice_schedules_one_task(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")
    event = suite.followup(case, user_id="sales-zhang")

    suite.deliver(event, event)

    assert len([task for task in suite.tasks(case["id"]) if task["kind"] == "followup"]) == 1


def test_the_follow_up_cadence_is_configurable(make_suite: Any) -> None:
    suite = make_suite(LOANBRIDGE_WORKFLOW_FOLLOWUP_DAYS="A=1,B=3")
    case = suite.lead(submitted_by="sales-zhang")

    suite.deliver(suite.followup(case, user_id="sales-zhang"))

    assert clock.as_utc(_task(suite, case, "followup")["due_at"]) == shanghai(2026, 12, 3, 18)


def _overdue_events(runtime: Runtime) -> list[str]:
    with runtime.database.session() as session:
        return list(
            session.execute(
                sa.select(outbox.c.event_id).where(outbox.c.event_type == "workflow.task.overdue")
            ).scalars()
        )


def _escalations(runtime: Runtime, case_id: str) -> int:
    with runtime.database.session() as session:
        return int(
            session.execute(
                sa.select(sa.func.count())
                .select_from(orm.case_history)
                .where(orm.case_history.c.case_id == case_id, orm.case_history.c.kind == "escalated")
            ).scalar_one()
        )


def test_an_uncontacted_assigned_case_is_overdue_once_and_escalated_to_the_manager(
    suite: Any, sales_team: list[str], fixed_clock: Any, run_timers: Any
) -> None:
    case = suite.lead(submitted_by="sales-a")
    suite.events()
    fixed_clock.advance(timedelta(hours=4, minutes=1))

    run_timers()
    run_timers()

    [overdue] = suite.events("workflow.task.overdue")
    assert overdue.data["kind"] == "first_contact"
    assert overdue.data["escalate_to"] == {"user_id": "mgr-wang", "role": "manager"}
    assert _escalations(suite.runtime, case["id"]) == 1


def test_a_task_not_yet_due_does_not_fire(suite: Any, fixed_clock: Any, run_timers: Any) -> None:
    suite.lead(submitted_by="sales-a")
    fixed_clock.advance(timedelta(hours=3, minutes=59))

    run_timers()

    assert suite.events("workflow.task.overdue") == []


def test_two_workers_and_a_restart_fire_an_overdue_task_exactly_once(
    suite: Any, sales_team: list[str], workflow_env: dict[str, str], fixed_clock: Any
) -> None:
    case = suite.lead(submitted_by="sales-a")
    fixed_clock.advance(timedelta(days=1))
    spec = suite.runtime.spec
    first, second = Runtime(spec, environ=workflow_env), Runtime(spec, environ=workflow_env)
    # The first worker takes the batch and dies before committing: nothing of its work remains.
    with first.unit_of_work() as uow:
        assert tasks.fire_overdue(uow, limit=100) == 1
    first.database.dispose()
    restarted = Runtime(spec, environ=workflow_env)
    barrier = threading.Barrier(2)

    def work(runtime: Runtime) -> int:
        barrier.wait()
        return sum(tasks.run_timers(runtime) for _ in range(3))

    with ThreadPoolExecutor(max_workers=2) as pool:
        fired = list(pool.map(work, [second, restarted]))

    assert sum(fired) == 1
    assert len(_overdue_events(suite.runtime)) == 1
    assert _escalations(suite.runtime, case["id"]) == 1
    for runtime in (second, restarted):
        runtime.database.dispose()


def test_a_timer_missed_while_no_worker_ran_fires_when_one_comes_back(
    suite: Any, fixed_clock: Any, run_timers: Any
) -> None:
    suite.lead(submitted_by="sales-a")
    fixed_clock.advance(timedelta(days=10))

    run_timers()

    assert len(suite.events("workflow.task.overdue")) == 1


def test_my_tasks_lists_due_and_overdue_and_completing_one_publishes_it(suite: Any, fixed_clock: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")
    fixed_clock.advance(timedelta(hours=5))
    headers = suite.headers("sales-zhang")
    suite.events()

    overdue = suite.client.get(f"{API}/tasks?overdue=true", headers=headers).get_json()["items"]
    done = suite.client.post(f"{API}/tasks/{overdue[0]['id']}/complete", headers=headers)
    others = suite.client.post(f"{API}/tasks/{overdue[0]['id']}/complete", headers=suite.headers("sales-li"))

    assert [(item["kind"], item["overdue"]) for item in overdue] == [("first_contact", True)]
    assert done.status_code == 200 and done.get_json()["status"] == "done"
    assert others.status_code == 404
    [completed] = suite.events("workflow.task.completed")
    assert completed.data["case_id"] == case["id"]


def test_a_transition_completes_the_stage_tasks_naming_each_assignees_manager(
    suite: Any, sales_team: list[str]
) -> None:
    case = suite.lead(submitted_by="sales-a")
    suite.events()

    moved = suite.client.post(
        f"{API}/cases/{case['id']}/transitions", json={"to": "pre_review"}, headers=suite.headers("sales-a")
    )

    assert moved.status_code == 200
    [completed] = suite.events("workflow.task.completed")
    assert (completed.data["kind"], completed.data["assignee_id"]) == ("first_contact", "sales-a")
    assert completed.data["escalate_to"] == {"user_id": "mgr-wang", "role": "manager"}


def test_the_team_board_counts_open_cases_per_stage_with_overdue_ones(
    suite: Any, sales_team: list[str], fixed_clock: Any, run_timers: Any
) -> None:
    suite.lead(submitted_by="sales-a")
    suite.lead(submitted_by="sales-b")
    fixed_clock.advance(timedelta(hours=5))
    suite.lead(submitted_by="sales-b")

    board = suite.client.get(f"{API}/board", headers=suite.manager()).get_json()

    assert board["stages"] == [
        {"stage": "assigned", "open": 3, "sla_breached": 2, "overdue": 2, "by_assignee": {"sales-a": 1, "sales-b": 2}}
    ]


def test_a_working_saturday_the_firm_declares_counts_in_the_sla(suite: Any, fixed_clock: Any) -> None:
    declared = suite.client.put(f"{API}/calendar/overrides/2026-12-05", json={"working": True, "note": "年终加班"},
                                headers=suite.admin())  # fmt: skip
    fixed_clock.set(shanghai(2026, 12, 4, 16))  # a Friday

    case = suite.lead(submitted_by="sales-zhang")

    assert declared.status_code == 200
    assert clock.as_utc(_task(suite, case, "first_contact")["due_at"]) == shanghai(2026, 12, 5, 11)
    day = suite.client.get(f"{API}/calendar/days/2026-12-05", headers=suite.headers("sales-zhang")).get_json()
    assert day == {"day": "2026-12-05", "working": True}


def test_a_company_holiday_the_firm_declares_is_skipped_and_only_admins_declare_days(
    suite: Any, fixed_clock: Any
) -> None:
    refused = suite.client.put(f"{API}/calendar/overrides/2026-12-01", json={"working": False},
                               headers=suite.manager())  # fmt: skip
    suite.client.put(f"{API}/calendar/overrides/2026-12-01", json={"working": False, "note": "公司年会"},
                     headers=suite.admin())  # fmt: skip
    fixed_clock.set(shanghai(2026, 11, 30, 16))

    case = suite.lead(submitted_by="sales-zhang")

    assert refused.status_code == 403
    assert clock.as_utc(_task(suite, case, "first_contact")["due_at"]) == shanghai(2026, 12, 2, 11)


def test_an_override_removed_returns_the_day_to_the_statutory_calendar(suite: Any) -> None:
    admin = suite.admin()
    suite.client.put(f"{API}/calendar/overrides/2026-10-10", json={"working": False, "note": "不调休"}, headers=admin)
    listed = suite.client.get(f"{API}/calendar/overrides?year=2026", headers=admin).get_json()["items"]

    removed = suite.client.delete(f"{API}/calendar/overrides/2026-10-10", headers=admin)
    day = suite.client.get(f"{API}/calendar/days/2026-10-10", headers=admin).get_json()

    assert listed == [{"day": "2026-10-10", "working": False, "note": "不调休"}]
    assert removed.status_code == 204
    assert day == {"day": "2026-10-10", "working": True}
    assert suite.client.delete(f"{API}/calendar/overrides/2026-10-10", headers=admin).status_code == 404


def test_two_running_timer_loops_fire_each_overdue_task_once(make_suite: Any, fixed_clock: Any) -> None:
    from loanbridge.common.testing.waiting import wait_until

    suite = make_suite(LOANBRIDGE_WORKFLOW_TIMER_POLL_SECONDS="0.01")
    cases = [suite.lead(submitted_by=f"sales-{n}") for n in range(5)]
    fixed_clock.advance(timedelta(days=1))
    workers = [Runtime(suite.runtime.spec, environ=suite.environ) for _ in range(2)]
    stop = threading.Event()
    threads = [threading.Thread(target=tasks.timer_loop, args=(worker, stop)) for worker in workers]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(_overdue_events(suite.runtime)) >= len(cases), message="every task overdue")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert len(_overdue_events(suite.runtime)) == len(cases)
    for worker in workers:
        worker.database.dispose()


def test_the_team_board_shows_cases_past_their_stage_sla_even_without_tasks(
    suite: Any, sales_team: list[str], fixed_clock: Any
) -> None:
    case = suite.lead(submitted_by="sales-a")
    suite.deliver(suite.followup(case, user_id="sales-a"), suite.submitted(case))
    fixed_clock.advance(timedelta(days=2))  # 资质初审 has one working day

    board = suite.client.get(f"{API}/board", headers=suite.manager()).get_json()

    [pre_review] = [stage for stage in board["stages"] if stage["stage"] == "pre_review"]
    assert (pre_review["open"], pre_review["sla_breached"]) == (1, 1)
