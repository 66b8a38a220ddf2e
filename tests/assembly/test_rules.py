"""The assembly's pure rules: the result from the policy, adulthood, the lottery's properties."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssa.assembly import lottery
from ssa.assembly.models import ProposalResult
from ssa.assembly.rules import adult_born_on_or_before, result_of


@pytest.mark.parametrize(
    ("eligible", "yes", "no", "abstain", "quorum", "approval", "expected"),
    [
        (10, 2, 0, 0, 20, 50, ProposalResult.adopted),  # turnout exactly at the quorum
        (10, 1, 0, 0, 20, 50, ProposalResult.no_quorum),
        (11, 2, 0, 0, 20, 50, ProposalResult.no_quorum),  # 18.2 % < 20 %
        (10, 1, 1, 0, 20, 50, ProposalResult.rejected),  # 50/50 is not above 50 %
        (10, 1, 0, 1, 20, 50, ProposalResult.adopted),  # abstention: quorum, not approval
        (10, 0, 0, 2, 20, 50, ProposalResult.rejected),
        (3, 2, 1, 0, 0, 66, ProposalResult.adopted),
        (3, 2, 1, 0, 0, 67, ProposalResult.rejected),
        (5, 5, 0, 0, 100, 100, ProposalResult.rejected),  # nothing is above 100 %
        (5, 1, 0, 0, 0, 0, ProposalResult.adopted),
        (5, 0, 0, 0, 0, 0, ProposalResult.rejected),
    ],
)
def test_result(
    eligible: int,
    yes: int,
    no: int,
    abstain: int,
    quorum: int,
    approval: int,
    expected: ProposalResult,
) -> None:
    assert (
        result_of(
            eligible=eligible,
            yes=yes,
            no=no,
            abstain=abstain,
            quorum_percent=quorum,
            approval_percent=approval,
        )
        == expected
    )


def test_adulthood_on_a_29_february() -> None:
    assert adult_born_on_or_before(date(2028, 2, 29)) == date(2010, 2, 28)
    assert adult_born_on_or_before(date(2026, 6, 15)) == date(2008, 6, 15)


rolls = st.lists(
    st.tuples(st.uuids().map(str), st.sampled_from(["a", "b", "c", "d"])),
    min_size=1,
    max_size=60,
    unique_by=lambda row: row[0],
)


@given(roll=rolls, seed=st.text(max_size=20), data=st.data())
def test_a_draw_fills_every_seat_proportionally_and_replays(
    roll: list[tuple[str, str]], seed: str, data: st.DataObject
) -> None:
    size = data.draw(st.integers(1, len(roll)))
    drawn = lottery.draw(seed, size, roll)
    assert len(drawn.person_ids) == size == len(set(drawn.person_ids))
    assert set(drawn.person_ids) <= {person_id for person_id, _ in roll}
    assert drawn.person_ids == sorted(drawn.person_ids)
    for seats in drawn.allocation:
        assert 0 <= seats.seats <= seats.roll
        assert abs(seats.seats - size * seats.roll / len(roll)) < 1
        chosen = [p for p, s in roll if s == seats.stratum and p in drawn.person_ids]
        assert len(chosen) == seats.seats
    # The order of the roll as given does not matter; the seed does.
    assert lottery.draw(seed, size, list(reversed(roll))) == drawn
    assert lottery.roll_digest(roll) == lottery.roll_digest(list(reversed(roll)))


def test_a_draw_refuses_a_bad_roll() -> None:
    with pytest.raises(ValueError, match="between 1"):
        lottery.draw("s", 3, [("a", "x"), ("b", "x")])
    with pytest.raises(ValueError, match="twice"):
        lottery.draw("s", 1, [("a", "x"), ("a", "y")])
