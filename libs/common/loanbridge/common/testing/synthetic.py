"""Synthetic personal numbers for tests, benchmarks and load generators: resident ID numbers (GB 11643) and
mainland mobiles that the suite's validators accept, drawn from a seeded ``random.Random`` so a run repeats.

    rng = random.Random(10)
    id_number(rng)                     # a Shandong district, born 1960-2000, right check character
    mobile(rng)                        # 11 digits in a block of the mainland number plan
    people = SyntheticPeople(seed=10)  # distinct (id_number, mobile) pairs, for posting many leads
    people.next_id_number(), people.next_mobile()

The numbers are made up: they pass the checks, and say nothing about anyone.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from functools import cache

from loanbridge.common.pii.validators import MOBILE_PATTERN, id_check_char, region_codes

# One current district code of each of Shandong's 16 prefecture cities (370802 is 济宁's former 市中区, kept
# because earlier runs' fixed seeds drew it; former codes stay valid).
SHANDONG_DISTRICTS = ("370102", "370202", "370302", "370402", "370502", "370602", "370702", "370802",
                      "370902", "371002", "371102", "371302", "371402", "371502", "371602", "371702")  # fmt: skip
# Blocks in common use; ``mobile_blocks()`` lists every block the validator accepts.
COMMON_MOBILE_BLOCKS = ("138", "139", "186", "158", "177")
EARLIEST_BORN, LATEST_BORN = 1960, 2000


@cache
def mobile_blocks() -> tuple[str, ...]:
    """Every 3-digit block (1xx) of the mainland number plan that ``normalise_mobile`` accepts, in order."""
    return tuple(block for block in (f"{n:03d}" for n in range(100, 200)) if MOBILE_PATTERN.match(block + "0" * 8))


def mobile(rng: random.Random, *, blocks: tuple[str, ...] = COMMON_MOBILE_BLOCKS) -> str:
    """A mainland mobile: a block of ``blocks``, then 8 random subscriber digits."""
    return rng.choice(blocks) + f"{rng.randrange(10**8):08d}"


def id_number(rng: random.Random, *, regions: tuple[str, ...] = SHANDONG_DISTRICTS) -> str:
    """A resident ID number: a region of ``regions``, a birth date 1960-2000 (day 1-28, so every month has it),
    a 3-digit sequence and its check character."""
    first17 = (
        f"{rng.choice(regions)}{rng.randint(EARLIEST_BORN, LATEST_BORN)}"
        f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randrange(1000):03d}"
    )
    return first17 + id_check_char(first17)


def id_number_of(region: str, born: date, sequence: int) -> str:
    """The valid ID number of a region code, a birth date and a sequence (0-999)."""
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + id_check_char(first17)


def any_region_id_number(rng: random.Random, *, today: date) -> str:
    """An ID number over the whole division list (current and former codes) and any birth day up to ``today``."""
    born = date(1900, 1, 1) + timedelta(days=rng.randrange((today - date(1900, 1, 1)).days + 1))
    return id_number_of(rng.choice(sorted(region_codes())), born, rng.randrange(1000))


class SyntheticPeople:
    """Distinct ID numbers and mobiles from one seed: no value is handed out twice by the same instance."""

    def __init__(self, seed: int, *, mobile_blocks: tuple[str, ...] = COMMON_MOBILE_BLOCKS) -> None:
        self.rng = random.Random(seed)
        self.mobile_blocks = mobile_blocks
        self._ids: set[str] = set()
        self._mobiles: set[str] = set()

    def next_id_number(self) -> str:
        """An ID number this instance has not handed out before."""
        return self._fresh(self._ids, lambda: id_number(self.rng))

    def next_mobile(self) -> str:
        """A mobile this instance has not handed out before."""
        return self._fresh(self._mobiles, lambda: mobile(self.rng, blocks=self.mobile_blocks))

    @property
    def handed_out(self) -> frozenset[str]:
        """Every ID number and mobile handed out so far (what a PII scan looks for)."""
        return frozenset(self._ids | self._mobiles)

    @staticmethod
    def _fresh(used: set[str], draw: Callable[[], str]) -> str:
        while True:
            value = draw()
            if value not in used:
                used.add(value)
                return value


def minimal_pdf() -> bytes:
    """A complete one-page PDF 1.4 with a correct cross-reference table (what intake's content check accepts)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
