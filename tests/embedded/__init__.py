"""The embedded mode as a user runs it: one `loanbridge run` process, SQLite under a var folder, no servers."""
