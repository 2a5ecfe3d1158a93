"""The plumbing every LoanBridge service shares (ARCHITECTURE.md §7): config, clock, database, unit of work,
events, auth, errors, logging, metrics, PII and test helpers."""
