"""The reference-data cache: values live for their TTL, None is never kept, forget drops a value."""

from __future__ import annotations

import time

from loanbridge.common.cache import TtlCache


def test_a_value_is_loaded_once_within_its_ttl_and_again_after() -> None:
    loads: list[int] = []
    cache: TtlCache[int] = TtlCache(ttl=0.2)

    def load() -> int:
        loads.append(1)
        return len(loads)

    assert cache.get("k", load) == 1
    assert cache.get("k", load) == 1
    time.sleep(0.25)  # the TTL itself is what is under test
    assert cache.get("k", load) == 2


def test_none_is_not_cached_so_a_new_record_is_found_at_once() -> None:
    cache: TtlCache[str] = TtlCache(ttl=60)
    assert cache.get("channel", lambda: None) is None
    assert cache.get("channel", lambda: "douyin") == "douyin"


def test_forget_drops_a_value_before_its_ttl() -> None:
    cache: TtlCache[int] = TtlCache(ttl=60)
    cache.get("quota", lambda: 5)
    cache.forget("quota")
    assert cache.get("quota", lambda: 7) == 7
