"""Demo data: a Gironde-like installation to try ssa on (`ssa demo`, run by `make run`)."""

from sqlmodel import Session, col, select

from ssa.funds.models import Fund
from ssa.funds.service import create_fund
from ssa.ledger.models import AccountKind, TransactionKind
from ssa.ledger.service import credit, debit, open_account, post_transaction

# The four local funds of the Gironde pilot, with a first grant each (cents).
DEMO_FUNDS = [
    ("bordeaux", "Caisse locale de Bordeaux", 12_000_000),
    ("libourne", "Caisse locale du Libournais", 6_000_000),
    ("haute-gironde", "Caisse locale de Haute-Gironde", 4_500_000),
    ("sud-gironde", "Caisse locale du Sud-Gironde", 5_500_000),
]
FUNDER = "Département de la Gironde"


def load_demo(*, db_session: Session) -> list[str]:
    """Create the demo funds that do not exist yet; say what was done, line by line."""
    lines = []
    for slug, name, grant_cents in DEMO_FUNDS:
        if db_session.exec(select(Fund).where(col(Fund.slug) == slug)).first() is not None:
            lines.append(f"fund {slug}: already there")
            continue
        fund = create_fund(db_session=db_session, slug=slug, name=name)
        bank = open_account(db_session=db_session, fund_id=fund.id, kind=AccountKind.bank)
        grants = open_account(
            db_session=db_session, fund_id=fund.id, kind=AccountKind.grant_income, reference=FUNDER
        )
        post_transaction(
            db_session=db_session,
            fund_id=fund.id,
            kind=TransactionKind.grant,
            legs=[debit(bank.id, grant_cents), credit(grants.id, grant_cents)],
            memo=f"Subvention {FUNDER}",
        )
        lines.append(f"fund {slug}: created ({name}), grant of {grant_cents / 100:,.2f} EUR")
    return lines
