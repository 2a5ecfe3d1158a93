"""intake's use cases, one module per feature; each function is one command or event, run in a unit of work
by its caller."""
