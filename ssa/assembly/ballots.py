"""Storing votes so that nobody can tell how a person voted (docs/assembly.md, "Secret ballot").

- The roll (`proposal_voter`) says who may vote and who did; the ballots (`ballot`) say
  what was voted. A ballot holds a random id, the proposal, the choice and `token` =
  HMAC(server key, proposal id : person id), so that the voter's later change finds and
  replaces it; nothing else points at it, and no timestamp or sequence is kept.
- Every vote rewrites the proposal's ballots: it deletes them and inserts them again,
  the new one among them, in an order drawn from the operating system's randomness and
  with fresh random ids. So every ballot comes from the same (latest) transaction (one
  `xmin` on PostgreSQL) and their storage order (ctid, rowid) is a new random order after
  each vote: neither points at the ballot that was just cast. (An UPDATE in place is not
  enough on PostgreSQL: a changed indexed column gives the row a new index entry, and the
  next statement scanning by that index then revisits the ballots in the order of the
  votes.)
- At the close the tokens are erased: after that even the server key does not link a
  person to a ballot.
"""

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, update
from sqlmodel import Session, col, select

from ssa.assembly.models import Ballot, Choice, ProposalVoter
from ssa.problems import Conflict


class BallotUnreachable(Conflict):
    code = "ballot_unreachable"
    title = "Your earlier vote cannot be found to be replaced"


def _ballot_key(secret_key: str) -> bytes:
    return hashlib.sha256(f"ssa ballot v1:{secret_key}".encode()).digest()


def ballot_token(secret_key: str, proposal_id: uuid.UUID, person_id: uuid.UUID) -> str:
    """The keyed token that lets a voter's ballot be found again (and by nothing else)."""
    message = f"{proposal_id}:{person_id}".encode()
    return hmac.new(_ballot_key(secret_key), message, hashlib.sha256).hexdigest()


def cast(
    db_session: Session,
    *,
    voter: ProposalVoter,
    choice: Choice,
    secret_ballot: bool,
    secret_keys: Sequence[str],
) -> bool:
    """Record `voter`'s vote (the caller holds the proposal's lock); True when it replaced
    an earlier one. `secret_keys`: the current server key first, then earlier ones."""
    proposal_id, person_id = voter.proposal_id, voter.person_id
    replacing = voter.has_voted
    known = {ballot_token(key, proposal_id, person_id) for key in secret_keys}
    stored = db_session.exec(
        select(Ballot.token, Ballot.choice).where(col(Ballot.proposal_id) == proposal_id)
    ).all()
    kept = [(token, earlier) for token, earlier in stored if token not in known]
    cast_before = len(stored) - len(kept)
    if replacing and not cast_before:
        raise BallotUnreachable(
            "The server key changed since you voted and the old one is no longer"
            " configured; ask the fund's coordinator."
        )
    mine = (ballot_token(secret_keys[0], proposal_id, person_id), choice.value)
    rows = [
        {"id": uuid.uuid4(), "proposal_id": proposal_id, "token": token, "choice": value}
        for token, value in [*kept, mine]
    ]
    _shuffle(rows)
    # Core statements (no ORM bookkeeping): this runs on every vote, for every ballot.
    ballot = Ballot.__table__  # type: ignore[attr-defined]
    db_session.execute(delete(ballot).where(ballot.c.proposal_id == proposal_id))
    db_session.execute(insert(ballot), rows)
    db_session.execute(
        update(ProposalVoter)
        .where(
            col(ProposalVoter.proposal_id) == proposal_id,
            col(ProposalVoter.person_id) == person_id,
        )
        .values(has_voted=True, open_choice=None if secret_ballot else choice.value)
    )
    return replacing


def _shuffle(rows: list[dict[str, Any]]) -> None:
    secrets.SystemRandom().shuffle(rows)


def tally(db_session: Session, proposal_id: uuid.UUID) -> dict[Choice, int]:
    rows = db_session.exec(
        select(Ballot.choice, func.count())
        .where(col(Ballot.proposal_id) == proposal_id, col(Ballot.choice).is_not(None))
        .group_by(col(Ballot.choice))
    ).all()
    counted = {Choice(choice): int(count) for choice, count in rows if choice is not None}
    return {choice: counted.get(choice, 0) for choice in Choice}


def unlink(db_session: Session, proposal_id: uuid.UUID) -> None:
    """Erase the tokens at the close: no key links a person to a ballot any more."""
    db_session.execute(
        update(Ballot)
        .where(col(Ballot.proposal_id) == proposal_id)
        .values(token=None)
        .execution_options(synchronize_session=False)
    )
