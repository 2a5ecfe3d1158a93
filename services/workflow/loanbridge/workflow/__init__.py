"""The workflow service: Ownership, loan lifecycle cases, assignment, public pool, tasks and SLA timers, loans."""
