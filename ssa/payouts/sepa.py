"""The SEPA credit transfer file of a batch (pain.001.001.03, what French banks take)."""

import uuid
from datetime import date

from sepaxml import SepaTransfer  # type: ignore[import-untyped]
from sqlmodel import Session

from ssa.funds.service import FUND_TIMEZONE, get_fund
from ssa.payouts.models import PayoutStatus
from ssa.payouts.service import PayoutWithLines
from ssa.problems import Conflict
from ssa.timeutil import utcnow

SCHEMA = "pain.001.001.03"


class FundIbanMissing(Conflict):
    code = "fund_iban_missing"
    title = "The fund has no bank account on record"


class PayoutCancelled(Conflict):
    code = "payout_cancelled"
    title = "A cancelled payout has no transfer file"


class _BatchTransfer(SepaTransfer):  # type: ignore[misc]
    """sepaxml's transfer with a message id of our choosing.

    The message id is the batch's own, so every download of one batch carries the same
    one, and the bank refuses a second upload of it as a duplicate instead of paying twice.
    """

    def __init__(self, config: dict[str, object], message_id: str) -> None:
        self._message_id = message_id
        super().__init__(config, schema=SCHEMA)

    def _create_header(self) -> None:
        self.msg_id = self._message_id
        super()._create_header()


def message_id(payout_id: uuid.UUID) -> str:
    return payout_id.hex  # 32 characters, within the 35 the schema allows


def sepa_credit_transfer(
    *, db_session: Session, found: PayoutWithLines, execution_date: date | None = None
) -> bytes:
    """The batch as pain.001 XML, validated against the ISO 20022 schema before it is
    returned: debtor the fund, one transfer per outlet, each identified by its line id."""
    payout = found.payout
    if payout.status == PayoutStatus.cancelled:
        raise PayoutCancelled("This payout was cancelled: its transfers must not be sent.")
    fund = get_fund(db_session=db_session, fund_id=payout.fund_id)
    if not fund.iban:
        raise FundIbanMissing("Record the fund's IBAN before exporting a transfer file.")
    config: dict[str, object] = {
        "name": fund.name,
        "IBAN": fund.iban,
        "batch": True,
        "currency": "EUR",
    }
    if fund.bic:
        config["BIC"] = fund.bic
    transfer = _BatchTransfer(config, message_id(payout.id))
    when = execution_date or utcnow().astimezone(FUND_TIMEZONE).date()
    for line in found.lines:
        payment: dict[str, object] = {
            "name": line.name,
            "IBAN": line.iban,
            "amount": line.amount_cents,
            "execution_date": when,
            "description": f"{fund.name} - paiement SSA {str(payout.id)[:8]}",
            "endtoend_id": line.id.hex,
        }
        if line.bic:
            payment["BIC"] = line.bic
        transfer.add_payment(payment)
    xml: bytes = transfer.export(validate=True)
    return xml
