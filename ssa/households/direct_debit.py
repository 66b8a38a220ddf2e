"""The SEPA direct-debit file of a period's contributions (pain.008.001.02, SDD Core).

One collection per household that has an active mandate and still owes its contribution
for the period (due or late: not paid, not waived), for what is left to pay. The euros
are recorded as contributions (method `direct_debit`) when they arrive, as any other
contribution.

Each file produced is recorded as a collection run (`DirectDebitRun`) with its debits, so
that nobody is debited twice:
- a later file of the same fund and period leaves out the households already in an open
  run of that period (only newcomers to collect: else `nothing_to_collect`);
- the same request again (same fund, period and collection date, nothing new to collect,
  the last open run's debits unchanged: same households, mandates untouched since, same
  amounts still owed) gives the same file again, same message id, byte for byte; the bank
  refuses a message id it already has;
- a run the bank never received is cancelled by the treasurer: its households are then
  collected by the next file;
- a debit the bank returned (an R-transaction) is recorded as returned, with the bank's
  reason: its household is collected again by the next file of the period (a new
  end-to-end id, `-2`, `-3`... after the first), the others of its run are not.
"""

import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime

from sepaxml import SepaDD  # type: ignore[import-untyped]
from sepaxml.validation import ValidationError  # type: ignore[import-untyped]
from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from ssa.audit.service import record
from ssa.funds.models import Fund
from ssa.funds.service import FUND_TIMEZONE, current_period, get_fund
from ssa.households import contributions
from ssa.households.mandates import sequence_types
from ssa.households.models import (
    RETRYABLE_RETURNS,
    Contribution,
    ContributionMethod,
    DirectDebitMandate,
    DirectDebitRun,
    DirectDebitRunLine,
    DirectDebitRunStatus,
    Household,
    HouseholdStatus,
    MandateStatus,
    ReturnReason,
)
from ssa.households.sepa import sepa_text
from ssa.problems import Conflict, NotFound, Problem
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
    title = "The collection date is not to come"


class PeriodTooFarAhead(Problem):
    status = 422
    code = "validation_error"
    title = "The period is too far ahead"


class DirectDebitRunNotFound(NotFound):
    code = "direct_debit_run_not_found"
    title = "The fund has no such direct-debit run"


class DirectDebitNotInRun(NotFound):
    code = "direct_debit_not_in_run"
    title = "The direct-debit run has no debit for this household"


class DirectDebitRunCancelled(Conflict):
    code = "direct_debit_run_cancelled"
    title = "The direct-debit run was cancelled: the bank never had its debits"


class DirectDebitRunReturned(Conflict):
    code = "direct_debit_run_returned"
    title = "The bank returned a debit of this run: it had the file, which cannot be cancelled"


class DirectDebitContributionRecorded(Conflict):
    code = "direct_debit_contribution_recorded"
    title = "The contribution of this debit is recorded as paid"


@dataclass(frozen=True)
class Collection:
    """One direct debit: a household's contribution for the period, under its mandate."""

    household_id: uuid.UUID
    member_number: str
    period: str
    amount_cents: int
    sequence_type: str  # FRST | RCUR
    mandate: DirectDebitMandate
    attempt: int = 1  # 2 and more: collected again after the bank returned the debit
    sent_as: str | None = None  # a run's debit produced again: its end-to-end id then

    @property
    def end_to_end_id(self) -> str:
        """Member number and period (one collection per household and period), and the
        attempt after the first."""
        if self.sent_as is not None:
            return self.sent_as
        first = f"{self.member_number}-{self.period}"
        return first if self.attempt == 1 else f"{first}-{self.attempt}"


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
    """sepaxml's direct debit with a message id, a creation time and payment block ids of
    our choosing (the same run gives the same file), and without a creditor BIC when the
    fund has none (IBAN-only: the XSD takes `NOTPROVIDED`, and SEPA banks no longer ask
    for the BIC)."""

    def __init__(self, config: dict[str, object], message_id: str, created: str) -> None:
        self._message_id = message_id
        self._created = created
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
        for node in self._xml.iter("CreDtTm"):
            node.text = self._created

    def _finalize_batch(self) -> None:
        super()._finalize_batch()
        for block in self._xml.iter("PmtInf"):
            sequence = block.findtext("PmtTpInf/SeqTp") or ""
            identifier = block.find("PmtInfId")
            if identifier is not None:
                identifier.text = f"{self._message_id[:30]}-{sequence}"


def message_id(run_id: uuid.UUID) -> str:
    """The run's message id: a new run, a new id; the same run, the same id."""
    return f"SSA-DD-{run_id.hex[:28]}"  # 35 characters, as the schema allows


def today() -> date:
    return utcnow().astimezone(FUND_TIMEZONE).date()


def _check_request(period: str, collection_date: date) -> None:
    if collection_date <= today():
        raise CollectionDatePast(
            "Choose a collection date from tomorrow on: the bank needs a day ahead."
        )
    now = current_period()
    year, month = int(now[:4]), int(now[5:7])
    following = f"{year + month // 12:04d}-{month % 12 + 1:02d}"
    if period > following:
        raise PeriodTooFarAhead(
            f"A direct-debit file is for a period up to {following}, one month ahead."
        )


def _locked_fund(db_session: Session, fund_id: uuid.UUID) -> Fund:
    # Runs of a fund are made one at a time (PostgreSQL row lock; SQLite writes already
    # are). FOR NO KEY UPDATE: rows referencing the fund are still inserted meanwhile.
    get_fund(db_session=db_session, fund_id=fund_id)  # 404 as the API says
    fund = db_session.get(
        Fund, fund_id, with_for_update={"key_share": True}, populate_existing=True
    )
    assert fund is not None
    return fund


def _open_runs(db_session: Session, fund_id: uuid.UUID, period: str) -> list[DirectDebitRun]:
    return list(
        db_session.exec(
            select(DirectDebitRun)
            .where(
                col(DirectDebitRun.fund_id) == fund_id,
                col(DirectDebitRun.period) == period,
                col(DirectDebitRun.status) == DirectDebitRunStatus.open.value,
            )
            .order_by(col(DirectDebitRun.created_at).desc(), col(DirectDebitRun.id))
        ).all()
    )


def run_lines(db_session: Session, run_ids: list[uuid.UUID]) -> list[DirectDebitRunLine]:
    if not run_ids:
        return []
    return list(
        db_session.exec(
            select(DirectDebitRunLine)
            .where(col(DirectDebitRunLine.run_id).in_(run_ids))
            .order_by(col(DirectDebitRunLine.end_to_end_id))
        ).all()
    )


def _same_again(
    run: DirectDebitRun, lines: list[DirectDebitRunLine], owing: dict[uuid.UUID, Collection]
) -> list[Collection] | None:
    """The run's debits as they were, when nothing changed since: every household still
    owes the same amount under the same mandate, untouched since the run; else None."""
    again = []
    for line in lines:
        now = owing.get(line.household_id)
        if (
            now is None
            or now.mandate.id != line.mandate_id
            or now.amount_cents != line.amount_cents
            or now.mandate.updated_at > run.created_at
        ):
            return None
        again.append(
            Collection(
                household_id=line.household_id,
                member_number=now.member_number,
                period=run.period,
                amount_cents=line.amount_cents,
                sequence_type=line.sequence_type,
                mandate=now.mandate,
                sent_as=line.end_to_end_id,
            )
        )
    return again


def _held_back(
    line: DirectDebitRunLine,
    owing: dict[uuid.UUID, Collection],
    sent_at: dict[uuid.UUID, datetime],
) -> bool:
    """A returned debit whose reason says presenting it again would fail or be wrong
    (account closed, no mandate, refused by the debtor...), under a mandate not amended
    or replaced since the debit was sent: its household waits for a new mandate."""
    if line.returned_at is None or line.return_reason in RETRYABLE_RETURNS:
        return False
    now = owing.get(line.household_id)
    return (
        now is not None
        and now.mandate.id == line.mandate_id
        and now.mandate.updated_at <= sent_at[line.run_id]
    )


def sepa_direct_debit(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    period: str,
    collection_date: date,
    actor: str = "system",
    request_id: str | None = None,
) -> bytes:
    """The period's collections as pain.008 XML, validated against the ISO 20022 schema
    before it is returned: creditor the fund, one debit per household (FRST and RCUR in
    separate payment blocks, as the scheme requires); recorded as a run (see above)."""
    _check_request(period, collection_date)
    fund = _locked_fund(db_session, fund_id)
    if not fund.sepa_creditor_id:
        raise SepaCreditorIdMissing(
            "Record the fund's SEPA creditor identifier (ICS) before producing a direct-debit file."
        )
    if not fund.iban:
        raise FundIbanMissing("Record the fund's IBAN before producing a direct-debit file.")
    owing = {
        c.household_id: c
        for c in collections(db_session=db_session, fund_id=fund_id, period=period)
    }
    open_runs = _open_runs(db_session, fund_id, period)
    lines = run_lines(db_session, [r.id for r in open_runs])
    sent = {line.household_id for line in lines if line.returned_at is None}
    sent_at = {run.id: run.created_at for run in open_runs}
    sent |= {line.household_id for line in lines if _held_back(line, owing, sent_at)}
    returned = Counter(line.household_id for line in lines if line.returned_at is not None)
    found = [
        replace(c, attempt=1 + returned[c.household_id])
        for c in owing.values()
        if c.household_id not in sent
    ]
    if not found:
        if open_runs and open_runs[0].collection_date == collection_date:
            last = open_runs[0]
            again = _same_again(last, [li for li in lines if li.run_id == last.id], owing)
            if again:
                return _file(fund, last, sorted(again, key=lambda c: c.member_number))
        raise NothingToCollect(
            f"No household with an active mandate owes its contribution for {period},"
            " other than those in a file already produced for it."
        )
    for c in found:
        if not sepa_text(c.mandate.debtor_name):
            raise DirectDebitInvalid(
                f"The mandate of household {c.member_number} has no debtor name a bank can"
                " read (Latin letters or digits): amend the mandate, then produce the file.",
                member_number=c.member_number,
            )
    run_id = uuid.uuid4()
    run = DirectDebitRun(
        id=run_id,
        fund_id=fund_id,
        period=period,
        message_id=message_id(run_id),
        collection_date=collection_date,
        created_by=actor,
    )
    xml = _file(fund, run, found)
    db_session.add(run)
    db_session.flush()
    for c in found:
        db_session.add(
            DirectDebitRunLine(
                run_id=run.id,
                household_id=c.household_id,
                mandate_id=c.mandate.id,
                amount_cents=c.amount_cents,
                sequence_type=c.sequence_type,
                end_to_end_id=c.end_to_end_id,
            )
        )
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="direct_debit_run.create",
        target_type="direct_debit_run",
        target_id=run.id,
        fund_id=fund_id,
        after=_trace(run, found),
        request_id=request_id,
    )
    return xml


def _trace(run: DirectDebitRun, found: list[Collection]) -> dict[str, object]:
    # No IBAN, no debtor name: the auditor reads this log.
    return {
        "period": run.period,
        "message_id": run.message_id,
        "collection_date": run.collection_date.isoformat(),
        "status": str(run.status),
        "debits": len(found),
        "total_cents": sum(c.amount_cents for c in found),
        "member_numbers": [c.member_number for c in found],
    }


def _file(fund: Fund, run: DirectDebitRun, found: list[Collection]) -> bytes:
    """The run's file; a schema refusal is a Problem naming the household, never a 500."""
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
    created = run.created_at.astimezone(FUND_TIMEZONE).strftime("%Y-%m-%dT%H:%M:%S")

    def export(debits: list[Collection]) -> bytes:
        debit = _PeriodDirectDebit(dict(config), run.message_id, created)
        for c in debits:
            payment: dict[str, object] = {
                "name": sepa_text(c.mandate.debtor_name),
                "IBAN": c.mandate.iban,
                "amount": c.amount_cents,
                "type": c.sequence_type,
                "collection_date": run.collection_date,
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

    try:
        return export(found)
    except (ValidationError, ValueError) as exc:
        # Which debit is wrong: each one alone (only when the whole file is refused).
        for c in found:
            try:
                export([c])
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


def list_runs(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    period: str | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[DirectDebitRun]:
    """The fund's runs, the newest first (limit + 1 rows, for the next cursor)."""
    query = select(DirectDebitRun).where(col(DirectDebitRun.fund_id) == fund_id)
    if period is not None:
        query = query.where(col(DirectDebitRun.period) == period)
    if after is not None:
        at, run_id = after
        query = query.where(
            or_(
                col(DirectDebitRun.created_at) < at,
                and_(col(DirectDebitRun.created_at) == at, col(DirectDebitRun.id) > run_id),
            )
        )
    return list(
        db_session.exec(
            query.order_by(col(DirectDebitRun.created_at).desc(), col(DirectDebitRun.id)).limit(
                limit + 1
            )
        ).all()
    )


def cancel_run(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    run_id: uuid.UUID,
    actor: str,
    request_id: str | None = None,
) -> DirectDebitRun:
    """Cancel a run the bank never received: its households are collected by the next
    file of the period. Cancelling a cancelled run changes nothing."""
    _locked_fund(db_session, fund_id)
    run = db_session.get(DirectDebitRun, run_id)
    if run is None or run.fund_id != fund_id:
        raise DirectDebitRunNotFound()
    if run.status == DirectDebitRunStatus.cancelled:
        return run
    if any(line.returned_at is not None for line in run_lines(db_session, [run.id])):
        raise DirectDebitRunReturned(
            "The bank returned a debit of this file, so it had the file and collected the"
            " others: cancelling it would debit them again."
        )
    before = {"status": str(run.status), "message_id": run.message_id, "period": run.period}
    run.status = DirectDebitRunStatus.cancelled
    run.cancelled_at = utcnow()
    run.cancelled_by = actor
    db_session.add(run)
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="direct_debit_run.cancel",
        target_type="direct_debit_run",
        target_id=run.id,
        fund_id=fund_id,
        before=before,
        after={**before, "status": str(run.status)},
        request_id=request_id,
    )
    return run


def return_debit(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    run_id: uuid.UUID,
    household_id: uuid.UUID,
    reason: ReturnReason,
    actor: str,
    request_id: str | None = None,
) -> DirectDebitRun:
    """Record that the bank returned a household's debit of a run (its reason code as on
    the return notice): the household is collected again by the next file of the period,
    unless the reason says presenting it again would fail (see `RETRYABLE_RETURNS`): then
    once its mandate is amended or replaced. The contribution must not be recorded yet
    (it is when the euros arrive), so it is still owed. Returning a returned debit
    changes nothing. Once a debit of a run is returned, the run cannot be cancelled."""
    _locked_fund(db_session, fund_id)
    run = db_session.get(DirectDebitRun, run_id)
    if run is None or run.fund_id != fund_id:
        raise DirectDebitRunNotFound()
    line = db_session.exec(
        select(DirectDebitRunLine).where(
            col(DirectDebitRunLine.run_id) == run.id,
            col(DirectDebitRunLine.household_id) == household_id,
        )
    ).first()
    if line is None:
        raise DirectDebitNotInRun()
    if run.status == DirectDebitRunStatus.cancelled:
        raise DirectDebitRunCancelled(
            "This file was cancelled as never received by the bank: none of its debits was"
            " collected, so none can come back."
        )
    if line.returned_at is not None:
        return run
    recorded = db_session.exec(
        select(func.coalesce(func.sum(Contribution.amount_cents), 0)).where(
            col(Contribution.household_id) == household_id,
            col(Contribution.period) == run.period,
            col(Contribution.method) == ContributionMethod.direct_debit.value,
        )
    ).one()
    if recorded > 0:  # net of corrections
        raise DirectDebitContributionRecorded(
            f"A contribution paid by direct debit is recorded for {run.period}: the returned"
            " debit would leave it counted as paid, and the bank account in the books"
            " holding euros the bank took back. Correct that contribution first (POST"
            " .../contributions/{id}/correction), then record the return."
        )
    line.returned_at = utcnow()
    line.returned_by = actor
    line.return_reason = reason.value
    db_session.add(line)
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="direct_debit_run.return",
        target_type="direct_debit_run",
        target_id=run.id,
        fund_id=fund_id,
        # The auditor reads this log: the line's id, not its end-to-end id (the member
        # number) nor the bank's reason (insufficient funds...), which stay on the line.
        after={"period": run.period, "message_id": run.message_id, "line_id": line.id},
        request_id=request_id,
    )
    return run
