"""Task reminders: the SLA's ``remind_before`` reminds the assignee once, while the task is open and not yet due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from loanbridge.common import clock

API = "/api/workflow/v1"


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=clock.business_timezone()).astimezone(UTC)


def first_contact(suite: Any, case: dict[str, Any]) -> dict[str, Any]:
    [task] = [task for task in suite.tasks(case["id"]) if task["kind"] == "first_contact"]
    return task


def test_a_first_contact_is_reminded_an_hour_before_it_is_due_and_only_once(
    suite: Any, fixed_clock: Any, run_timers: Any
) -> None:
    case = suite.lead(submitted_by="sales-zhang")  # Monday 10:00, due 14:00, reminder 13:00
    suite.events()

    fixed_clock.set(shanghai(30, 12, 59))
    run_timers()
    early = suite.events("workflow.task.reminder_due")
    fixed_clock.set(shanghai(30, 13, 0))
    run_timers()
    reminded = suite.events("workflow.task.reminder_due")
    fixed_clock.set(shanghai(30, 13, 30))
    run_timers()
    again = suite.events("workflow.task.reminder_due")

    assert early == [] and again == []
    assert clock.as_utc(first_contact(suite, case)["remind_at"]) == shanghai(30, 13)
    [event] = reminded
    assert (event.data["task_id"], event.data["assignee_id"]) == (first_contact(suite, case)["id"], "sales-zhang")
    assert event.data["due_at"] == "2026-11-30T06:00:00Z"


def test_a_task_done_before_its_reminder_is_not_reminded(suite: Any, fixed_clock: Any, run_timers: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")
    task = first_contact(suite, case)
    done = suite.client.post(f"{API}/tasks/{task['id']}/complete", headers=suite.headers("sales-zhang"))
    suite.events()

    fixed_clock.set(shanghai(30, 13, 30))
    run_timers()

    assert done.status_code == 200
    assert suite.events("workflow.task.reminder_due") == []


def test_a_reminder_missed_until_the_task_is_due_is_dropped_for_the_overdue_message(
    suite: Any, fixed_clock: Any, run_timers: Any
) -> None:
    suite.lead(submitted_by="sales-zhang")
    suite.events()

    fixed_clock.set(shanghai(30, 14, 30))  # the worker was down from before 13:00 until after 14:00
    run_timers()
    published = [event.type for event in suite.events() if event.type.startswith("workflow.task.")]
    fixed_clock.advance(timedelta(hours=1))
    run_timers()

    assert published == ["workflow.task.overdue"]
    assert suite.events("workflow.task.reminder_due") == []
