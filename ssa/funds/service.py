"""Creating and finding funds."""

import uuid

from sqlmodel import Session, col, select

from ssa.funds.models import Fund
from ssa.ledger.service import open_fund_accounts
from ssa.problems import Conflict, NotFound


class FundNotFound(NotFound):
    title = "No such fund"


class FundSlugTaken(Conflict):
    code = "fund_slug_taken"
    title = "A fund with this slug exists already"


def create_fund(*, db_session: Session, slug: str, name: str) -> Fund:
    """Create a fund and open its bank, income, expense and transit accounts."""
    if db_session.exec(select(Fund).where(col(Fund.slug) == slug)).first() is not None:
        raise FundSlugTaken(f"The slug {slug!r} is taken.")
    fund = Fund(slug=slug, name=name)
    db_session.add(fund)
    db_session.flush()
    open_fund_accounts(db_session=db_session, fund_id=fund.id)
    return fund


def get_fund(*, db_session: Session, fund_id: uuid.UUID) -> Fund:
    fund = db_session.get(Fund, fund_id)
    if fund is None:
        raise FundNotFound()
    return fund
