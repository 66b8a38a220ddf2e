"""Drawing a committee by lot: a deterministic, stratified draw anyone can replay (pure).

Algorithm `ssa-committee-v1` (docs/assembly.md says the same in words):

1. The roll is a list of (person id, stratum) pairs, person ids as lowercase hyphenated
   UUIDs, sorted by person id. Its SHA-256 is taken over its compact JSON form
   (`[["<id>","<stratum>"],...]`, no spaces), so a published digest pins the roll.
2. Seats are shared among the strata in proportion to their size, by largest remainder:
   each stratum of n people gets floor(size * n / N) seats; the seats left go one each to
   the strata with the largest remainders (size * n mod N), ties broken by the smaller
   SHA-256(seed + ":stratum:" + stratum) in hexadecimal, then by the stratum's name.
3. Within a stratum, people are ordered by SHA-256(seed + ":" + person id) in
   hexadecimal (then by person id), and the first ones take the stratum's seats.
4. The committee is the chosen person ids, sorted.

Strings are hashed as UTF-8. Nothing else is random: the same seed and roll always give
the same committee.
"""

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

ALGORITHM = "ssa-committee-v1"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def canonical_roll(roll: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted((person_id.lower(), stratum) for person_id, stratum in roll)


def roll_digest(roll: Sequence[tuple[str, str]]) -> str:
    """SHA-256 of the roll's compact JSON, sorted by person id."""
    rows = [[person_id, stratum] for person_id, stratum in canonical_roll(roll)]
    return _sha256(json.dumps(rows, separators=(",", ":"), ensure_ascii=False))


@dataclass(frozen=True)
class Seats:
    stratum: str
    roll: int
    seats: int


@dataclass(frozen=True)
class Drawn:
    allocation: list[Seats]
    person_ids: list[str]


def allocate(seed: str, size: int, counts: dict[str, int]) -> list[Seats]:
    """Seats per stratum, proportional to its size, largest remainders first."""
    total = sum(counts.values())
    if not 0 < size <= total:
        raise ValueError("the committee must have between 1 and as many seats as the roll")
    base = {stratum: size * n // total for stratum, n in counts.items()}
    left = size - sum(base.values())
    by_remainder = sorted(
        counts,
        key=lambda s: (-(size * counts[s] % total), _sha256(f"{seed}:stratum:{s}"), s),
    )
    for stratum in by_remainder[:left]:
        base[stratum] += 1
    return [Seats(stratum, counts[stratum], base[stratum]) for stratum in sorted(counts)]


def draw(seed: str, size: int, roll: Sequence[tuple[str, str]]) -> Drawn:
    """The committee of `size` drawn from `roll` with `seed` (see the module's docstring)."""
    rows = canonical_roll(roll)
    if len({person_id for person_id, _ in rows}) != len(rows):
        raise ValueError("a person appears twice on the roll")
    allocation = allocate(seed, size, dict(Counter(stratum for _, stratum in rows)))
    chosen: list[str] = []
    for seats in allocation:
        members = sorted(
            (person_id for person_id, stratum in rows if stratum == seats.stratum),
            key=lambda person_id: (_sha256(f"{seed}:{person_id}"), person_id),
        )
        chosen.extend(members[: seats.seats])
    return Drawn(allocation=allocation, person_ids=sorted(chosen))
