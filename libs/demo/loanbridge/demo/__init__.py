"""``loanbridge demo-data``: a believable Shandong firm with months of history, written through every service's
own API at past business times (ARCHITECTURE.md §8)."""
