"""Helpers for tests of every service: waiting with a deadline, a TCP fault proxy, fakes."""
