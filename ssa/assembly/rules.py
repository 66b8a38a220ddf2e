"""The assembly's arithmetic (pure): who is an adult, what a proposal does, the result."""

from dataclasses import dataclass
from datetime import date

from ssa.assembly.models import ProposalKind, ProposalResult
from ssa.issuance.periods import years_before
from ssa.outlets.models import OutletStatus

VOTING_AGE = 18


def adult_born_on_or_before(day: date) -> date:
    """The latest birth date of a person who is an adult (18 or over) on `day`."""
    return years_before(day, VOTING_AGE)


@dataclass(frozen=True)
class Effect:
    """What an adopted proposal of a kind does: the statuses it applies to, and the new one."""

    applies_to: frozenset[OutletStatus]
    becomes: OutletStatus


EFFECTS: dict[ProposalKind, Effect] = {
    ProposalKind.accredit_outlet: Effect(
        frozenset({OutletStatus.applicant}), OutletStatus.accredited
    ),
    ProposalKind.suspend_outlet: Effect(
        frozenset({OutletStatus.accredited}), OutletStatus.suspended
    ),
    ProposalKind.revoke_outlet: Effect(
        frozenset({OutletStatus.accredited, OutletStatus.suspended}), OutletStatus.revoked
    ),
    ProposalKind.reinstate_outlet: Effect(
        frozenset({OutletStatus.suspended, OutletStatus.revoked}), OutletStatus.accredited
    ),
}


def result_of(
    *,
    eligible: int,
    yes: int,
    no: int,
    abstain: int,
    quorum_percent: int,
    approval_percent: int,
) -> ProposalResult:
    """`no_quorum` when the turnout (abstentions count) is below the quorum, else `adopted`
    when yes / (yes + no) is strictly above the approval share, else `rejected`.

    Integer arithmetic only: a turnout exactly at the quorum meets it, and a share
    exactly at the approval threshold (a 50/50 split at 50 %) does not pass.
    """
    turnout = yes + no + abstain
    if turnout * 100 < quorum_percent * eligible:
        return ProposalResult.no_quorum
    if yes * 100 > approval_percent * (yes + no):
        return ProposalResult.adopted
    return ProposalResult.rejected


def turnout_percent(votes: int, eligible: int) -> float:
    return round(100 * votes / eligible, 2) if eligible else 0.0
