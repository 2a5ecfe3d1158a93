"""workflow's use cases: one function per command or event, each run in one unit of work."""
