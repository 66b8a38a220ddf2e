"""Member numbers: a fund prefix, six digits and a Damm check digit.

The Damm algorithm (via python-stdnum) catches every single mistyped digit and every
swap of two adjacent digits, so the till refuses a wrong number before looking it up.
"""

import re

from sqlalchemy import update
from sqlmodel import Session, col, select
from stdnum import damm

from ssa.households.models import MemberNumberCounter
from ssa.problems import Problem

_FORMAT = re.compile(r"^([A-Z]{3})([0-9]{6})([0-9])$")


class MemberNumberInvalid(Problem):
    status = 422
    code = "member_number_invalid"
    title = "This member number is not valid"

    def __init__(self) -> None:
        super().__init__("Check the member number on the card: a digit is wrong or missing.")


def prefix_for(slug: str) -> str:
    """Three capital letters from the fund's slug ('bordeaux' -> 'BOR')."""
    letters = re.sub(r"[^A-Za-z]", "", slug).upper()
    return (letters + "XXX")[:3]


def format_number(prefix: str, sequence: int) -> str:
    digits = f"{sequence:06d}"
    return f"{prefix}{digits}{damm.calc_check_digit(digits)}"


def normalise(member_number: str) -> str:
    """The canonical form, or MemberNumberInvalid: spaces and hyphens are ignored."""
    compact = re.sub(r"[\s\-.]", "", member_number).upper()
    match = _FORMAT.match(compact)
    if match is None or not damm.is_valid(match.group(2) + match.group(3)):
        raise MemberNumberInvalid()
    return compact


def next_member_number(*, db_session: Session, slug: str) -> str:
    """Take the next number under the fund's prefix (row-locked counter)."""
    prefix = prefix_for(slug)
    counter = db_session.exec(
        select(MemberNumberCounter).where(col(MemberNumberCounter.prefix) == prefix)
    ).first()
    if counter is None:
        db_session.add(MemberNumberCounter(prefix=prefix, last_number=0))
        db_session.flush()
    taken = db_session.exec(
        update(MemberNumberCounter)
        .where(col(MemberNumberCounter.prefix) == prefix)
        .values(last_number=col(MemberNumberCounter.last_number) + 1)
        .returning(col(MemberNumberCounter.last_number))
    ).scalar_one()
    if taken > 999_999:
        raise RuntimeError(f"member numbers under {prefix} are exhausted")
    return format_number(prefix, int(taken))
