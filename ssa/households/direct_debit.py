"""The SEPA direct-debit file of a period's contributions (pain.008.001.02, SDD Core).

One collection per household that has an active mandate and still owes its contribution
for the period (due or late: not paid, not waived), for what is left to pay. The file is
for the fund's bank; producing it writes nothing: the euros are recorded as contributions
(method `direct_debit`) when they arrive, as any other contribution.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date

from sepaxml import SepaDD  # type: ignore[import-untyped]
from sepaxml.validation import ValidationError  # type: ignore[import-untyped]
from sqlmodel import Session, col, select

from ssa.funds.service import FUND_TIMEZONE, get_fund
from ssa.households import contributions
from ssa.households.mandates import sequence_types
from ssa.households.models import DirectDebitMandate, Household, HouseholdStatus, MandateStatus
from ssa.households.sepa import sepa_text
from ssa.problems import Conflict, Problem
from ssa.timeutil import utcnow

SCHEMA = "pain.008.001.02"
_PAGE = 500


class SepaCreditorIdMissing(Conflict):
    code = "sepa_creditor_id_missing"
    title = "The fund has no SEPA creditor identifier"


class FundIbanMissing(Conflict):
    code = "fund_iban_missing"
    title = "The fund has no bank account on record"


class NothingToCollect(Conflict):
    code = "nothing_to_collect"
    title = "No contribution of this period is to be collected by direct debit"


class DirectDebitInvalid(Conflict):
    code = "direct_debit_invalid"
    title = "The direct-debit file would not be valid"


class CollectionDatePast(Problem):
    status = 422
    code = "collection_date_past"
    title = "The collection date is in the past"


@dataclass(frozen=True)
class Collection:
    """One direct debit: a household's contribution for the period, under its mandate."""

    household_id: uuid.UUID
    member_number: str
    period: str
    amount_cents: int
    sequence_type: str  # FRST | RCUR
    mandate: DirectDebitMandate

    @property
    def end_to_end_id(self) -> str:
        """Member number and period: one collection per household and period."""
        return f"{self.member_number}-{self.period}"


def collections(*, db_session: Session, fund_id: uuid.UUID, period: str) -> list[Collection]:
    """What is to be collected for `period`, by member number: the active households with
    an active mandate whose contribution is due or late, for what they have not paid yet.

    Suspended households are left out (their credits are stopped); paid and waived
    periods owe nothing."""
    owing: dict[uuid.UUID, tuple[str, int]] = {}
    after: str | None = None
    while True:
        page = contributions.statuses(
            db_session=db_session,
            fund_id=fund_id,
            period=period,
            limit=_PAGE,
            after_member_number=after,
        )
        for row in page:
            if row.status in ("due", "late") and row.due_cents > row.paid_cents:
                owing[row.household_id] = (row.member_number, row.due_cents - row.paid_cents)
        if len(page) < _PAGE:
            break
        after = page[-1].member_number
    if not owing:
        return []
    mandates = list(
        db_session.exec(
            select(DirectDebitMandate)
            .join(Household, col(Household.id) == col(DirectDebitMandate.household_id))
            .where(
                col(DirectDebitMandate.fund_id) == fund_id,
                col(DirectDebitMandate.status) == MandateStatus.active.value,
                col(Household.status) == HouseholdStatus.active.value,
            )
        ).all()
    )
    mandates = [m for m in mandates if m.household_id in owing]
    sequence = sequence_types(db_session=db_session, mandates=mandates)
    found = [
        Collection(
            household_id=m.household_id,
            member_number=owing[m.household_id][0],
            amount_cents=owing[m.household_id][1],
            sequence_type=sequence[m.id],
            mandate=m,
            period=period,
        )
        for m in mandates
    ]
    return sorted(found, key=lambda c: c.member_number)


class _PeriodDirectDebit(SepaDD):  # type: ignore[misc]
    """sepaxml's direct debit with a message id of our choosing, and without a creditor
    BIC when the fund has none (IBAN-only: the XSD takes `NOTPROVIDED`, and SEPA banks
    no longer ask for the BIC)."""

    def __init__(self, config: dict[str, object], message_id: str) -> None:
        self._message_id = message_id
        super().__init__(config, schema=SCHEMA)

    def check_config(self, config: dict[str, object]) -> bool:
        missing = [
            k for k in ("name", "IBAN", "batch", "creditor_id", "currency") if k not in config
        ]
        if missing:
            raise ValueError(f"direct-debit configuration lacks {missing}")
        return True

    def _create_header(self) -> None:
        self.msg_id = self._message_id
        super()._create_header()


def message_id(fund_id: uuid.UUID, period: str, when: date, found: list[Collection]) -> str:
    """The same file (same fund, period, date and collections) always has the same message
    id, so the bank refuses a second upload of it instead of debiting the households twice;
    a file with other collections gets another one."""
    digest = hashlib.sha256(f"{fund_id}|{period}|{when.isoformat()}".encode())
    for c in found:
        digest.update(f"|{c.end_to_end_id}:{c.amount_cents}:{c.sequence_type}".encode())
    return f"SSA-DD-{digest.hexdigest()[:28]}"  # 35 characters, as the schema allows


def today() -> date:
    return utcnow().astimezone(FUND_TIMEZONE).date()


def sepa_direct_debit(
    *, db_session: Session, fund_id: uuid.UUID, period: str, collection_date: date
) -> bytes:
    """The period's collections as pain.008 XML, validated against the ISO 20022 schema
    before it is returned: creditor the fund, one debit per household (FRST and RCUR in
    separate payment blocks, as the scheme requires)."""
    fund = get_fund(db_session=db_session, fund_id=fund_id)
    if collection_date < today():
        raise CollectionDatePast("Choose a collection date from today on.")
    if not fund.sepa_creditor_id:
        raise SepaCreditorIdMissing(
            "Record the fund's SEPA creditor identifier (ICS) before producing a direct-debit file."
        )
    if not fund.iban:
        raise FundIbanMissing("Record the fund's IBAN before producing a direct-debit file.")
    found = collections(db_session=db_session, fund_id=fund_id, period=period)
    if not found:
        raise NothingToCollect(
            f"No household with an active mandate owes its contribution for {period}."
        )
    creditor_name = sepa_text(fund.name) or sepa_text(fund.slug) or "SSA"
    config: dict[str, object] = {
        "name": creditor_name,
        "IBAN": fund.iban,
        "batch": True,
        "creditor_id": fund.sepa_creditor_id,
        "currency": "EUR",
    }
    if fund.bic:
        config["BIC"] = fund.bic
    for c in found:
        if not sepa_text(c.mandate.debtor_name):
            raise DirectDebitInvalid(
                f"The mandate of household {c.member_number} has no debtor name a bank can"
                " read (Latin letters or digits): amend the mandate, then produce the file.",
                member_number=c.member_number,
            )
    msg_id = message_id(fund_id, period, collection_date, found)
    try:
        return _export(config, msg_id, found, collection_date)
    except (ValidationError, ValueError) as exc:
        # Which debit is wrong: each one alone (only when the whole file is refused).
        for c in found:
            try:
                _export(config, msg_id, [c], collection_date)
            except (ValidationError, ValueError):
                raise DirectDebitInvalid(
                    f"The debit of household {c.member_number} is not valid for the bank:"
                    " check its mandate (name, BIC, reference).",
                    member_number=c.member_number,
                ) from exc
        raise DirectDebitInvalid(
            "The file is not valid for the bank: check the fund's name, IBAN, BIC and"
            " creditor identifier."
        ) from exc


def _export(
    config: dict[str, object], msg_id: str, found: list[Collection], collection_date: date
) -> bytes:
    """The pain.008 file of `found`, validated against its schema (sepaxml's
    ValidationError, or ValueError for a configuration it refuses, when it is not)."""
    debit = _PeriodDirectDebit(dict(config), msg_id)
    for c in found:
        payment: dict[str, object] = {
            "name": sepa_text(c.mandate.debtor_name),
            "IBAN": c.mandate.iban,
            "amount": c.amount_cents,
            "type": c.sequence_type,
            "collection_date": collection_date,
            "mandate_id": c.mandate.reference,
            "mandate_date": c.mandate.signed_on,
            "description": sepa_text(
                f"Cotisation SSA {c.period} adherent {c.member_number}", max_length=140
            ),
            "endtoend_id": c.end_to_end_id,
        }
        if c.mandate.bic:
            payment["BIC"] = c.mandate.bic
        debit.add_payment(payment)
    xml: bytes = debit.export(validate=True)
    return xml
