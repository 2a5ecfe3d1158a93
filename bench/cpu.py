"""CPU time each process of a stack spent per unit of work (``Stack.cpu_seconds`` before and after), printed the
same way by every distributed-mode bench."""

from __future__ import annotations


def report(unit: str, before: dict[str, float], after: dict[str, float], count: int, *, rate: float) -> None:
    """Print the CPU per ``unit`` of every process, largest first, and the cores ``rate`` units a second need."""
    spent = {name: (after.get(name, 0.0) - before.get(name, 0.0)) * 1000 / count for name in after}
    total = sum(spent.values())
    print(f"CPU per {unit}, all processes: {total:.1f} ms ({total * rate / 1000:.2f} cores at {rate:.0f}/s)")
    for name, ms in sorted(spent.items(), key=lambda item: -item[1]):
        if ms >= 0.1:
            print(f"  {name:24s} {ms:5.1f} ms")
