"""Integration events: envelope, outbox, inbox, topology, relay and consumers (ARCHITECTURE.md §3)."""
