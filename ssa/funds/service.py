"""Creating and finding funds, and the versions of their policy.

A policy version applies from its `effective_period` until the next one. Versions
for the current month or later may be set, and set again; a past month's version is
never changed, because credits were issued under it (409 `policy_period_past`), nor one
from a month whose credits are already issued (409 `policy_period_issued`): a late joiner
of that month would get other credits than the rest.
"""

import base64
import binascii
import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sqlmodel import Session, col, select

from ssa.audit.service import record
from ssa.funds.models import Fund, FundPolicy
from ssa.funds.presets import PRESETS, Preset
from ssa.funds.schemas import PolicyFields, PolicyOut, PolicyOverrides
from ssa.issuance import periods
from ssa.issuance.models import HouseholdIssuance
from ssa.ledger.service import open_fund_accounts
from ssa.pagination import BadCursor
from ssa.problems import Conflict, NotFound, Problem
from ssa.timeutil import utcnow

# The month a fund lives by: its members' calendar, not UTC's.
FUND_TIMEZONE = ZoneInfo("Europe/Paris")


class FundNotFound(NotFound):
    title = "No such fund"


class FundSlugTaken(Conflict):
    code = "fund_slug_taken"
    title = "A fund with this slug exists already"


class InvalidIban(Problem):
    status = 422
    code = "invalid_iban"
    title = "Invalid IBAN"


class InvalidBic(Problem):
    status = 422
    code = "invalid_bic"
    title = "Invalid BIC"


class InvalidSepaCreditorId(Problem):
    status = 422
    code = "invalid_sepa_creditor_id"
    title = "Invalid SEPA creditor identifier"


class InvalidPolicy(Problem):
    status = 422
    code = "validation_error"
    title = "Validation error"


class PolicyPeriodPast(Conflict):
    code = "policy_period_past"
    title = "This period is past: its policy cannot change"


class PolicyPeriodIssued(Conflict):
    code = "policy_period_issued"
    title = "Credits are issued for this period: its policy cannot change"


def current_period(now: datetime | None = None) -> str:
    """The fund's current month, 'YYYY-MM'."""
    return (now or utcnow()).astimezone(FUND_TIMEZONE).strftime("%Y-%m")


def fund_today(now: datetime | None = None) -> date:
    """The day it is in the fund's calendar (Paris), which the months follow: shortly
    after midnight on the 1st, UTC is still in the month before."""
    return (now or utcnow()).astimezone(FUND_TIMEZONE).date()


# --- Bank details -----------------------------------------------------------------


def normalise_iban(value: str) -> str:
    try:
        return str(IBAN(value).compact)
    except SchwiftyException as exc:
        raise InvalidIban(f"This IBAN is not valid: {exc}.") from exc


def normalise_bic(value: str) -> str:
    try:
        return str(BIC(value).compact)
    except SchwiftyException as exc:
        raise InvalidBic(f"This BIC is not valid: {exc}.") from exc


def normalise_sepa_creditor_id(value: str) -> str:
    """Check a SEPA creditor identifier (e.g. FR72ZZZ123456): format and check digits.

    The check digits are ISO 7064 MOD 97-10 over the national identifier followed by
    the country code and '00'; the three-character business code is not covered.
    """
    compact = "".join(value.split()).upper()
    national = compact[7:]
    if (
        not 8 <= len(compact) <= 35
        or not compact.isascii()
        or not compact.isalnum()
        or not compact[:2].isalpha()
        or not compact[2:4].isdigit()
    ):
        raise InvalidSepaCreditorId("A SEPA creditor identifier looks like FR72ZZZ123456.")
    digits = "".join(str(int(char, 36)) for char in national + compact[:2] + "00")
    if 98 - int(digits) % 97 != int(compact[2:4]):
        raise InvalidSepaCreditorId("The check digits of this SEPA creditor identifier are wrong.")
    return compact


# --- Funds ------------------------------------------------------------------------


def create_fund(
    *,
    db_session: Session,
    slug: str,
    name: str,
    iban: str | None = None,
    bic: str | None = None,
    sepa_creditor_id: str | None = None,
    preset: Preset = Preset.gironde,
    policy: PolicyOverrides | None = None,
    actor: str = "system",
    request_id: str | None = None,
) -> Fund:
    """Create a fund with its first policy (from the current month) and its accounts.

    The policy is the preset's, with the fields of `policy` laid over it.
    """
    if db_session.exec(select(Fund).where(col(Fund.slug) == slug)).first() is not None:
        raise FundSlugTaken(f"The slug {slug!r} is taken.")
    fund = Fund(
        slug=slug,
        name=name,
        iban=normalise_iban(iban) if iban is not None else None,
        bic=normalise_bic(bic) if bic else None,
        sepa_creditor_id=normalise_sepa_creditor_id(sepa_creditor_id) if sepa_creditor_id else None,
    )
    rules = _validated({**PRESETS[preset], **(policy.given() if policy else {})})
    db_session.add(fund)
    db_session.flush()
    first = FundPolicy(
        fund_id=fund.id, effective_period=current_period(), created_by=actor, **_columns(rules)
    )
    db_session.add(first)
    db_session.flush()
    open_fund_accounts(db_session=db_session, fund_id=fund.id)
    record(
        db_session=db_session,
        actor=actor,
        action="fund.create",
        target_type="fund",
        target_id=fund.id,
        fund_id=fund.id,
        after={**fund_details(fund), "preset": preset.value, "policy": policy_as_dict(first)},
        request_id=request_id,
    )
    return fund


def fund_details(fund: Fund) -> dict[str, Any]:
    return {
        "id": str(fund.id),
        "slug": fund.slug,
        "name": fund.name,
        "iban": fund.iban,
        "bic": fund.bic,
        "sepa_creditor_id": fund.sepa_creditor_id,
    }


def get_fund(*, db_session: Session, fund_id: uuid.UUID) -> Fund:
    fund = db_session.get(Fund, fund_id)
    if fund is None:
        raise FundNotFound()
    return fund


def encode_cursor(slug: str) -> str:
    return base64.urlsafe_b64encode(slug.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadCursor("This cursor was not given by this list.") from exc


def list_funds(
    *, db_session: Session, limit: int, cursor: str | None = None
) -> tuple[list[Fund], str | None]:
    """Funds by slug; the cursor is the last slug already seen (opaque to callers)."""
    query = select(Fund).order_by(col(Fund.slug))
    if cursor is not None:
        query = query.where(col(Fund.slug) > decode_cursor(cursor))
    funds = list(db_session.exec(query.limit(limit + 1)).all())
    if len(funds) > limit:
        return funds[:limit], encode_cursor(funds[limit - 1].slug)
    return funds, None


# --- Policy -----------------------------------------------------------------------


def _validated(values: dict[str, Any]) -> PolicyFields:
    try:
        return PolicyFields.model_validate(values)
    except ValidationError as exc:  # a combination the parts' checks let through
        raise InvalidPolicy(
            "The policy is not valid; see `errors`.",
            errors=[
                {"loc": ["body", "policy", *err["loc"]], "msg": err["msg"], "type": err["type"]}
                for err in exc.errors()
            ],
        ) from exc


def _columns(rules: PolicyFields) -> dict[str, Any]:
    return rules.model_dump(mode="json")


def policy_as_dict(policy: FundPolicy) -> dict[str, Any]:
    return PolicyOut.model_validate(policy, from_attributes=True).model_dump(mode="json")


def policy_for(*, db_session: Session, fund_id: uuid.UUID, period: str) -> FundPolicy:
    """The version in force in `period`: the latest not after it, else the earliest."""
    in_force = db_session.exec(
        select(FundPolicy)
        .where(col(FundPolicy.fund_id) == fund_id, col(FundPolicy.effective_period) <= period)
        .order_by(col(FundPolicy.effective_period).desc())
        .limit(1)
    ).first()
    if in_force is not None:
        return in_force
    earliest = db_session.exec(
        select(FundPolicy)
        .where(col(FundPolicy.fund_id) == fund_id)
        .order_by(col(FundPolicy.effective_period))
        .limit(1)
    ).first()
    if earliest is None:  # every fund is created with a policy
        raise FundNotFound("This fund has no policy.")
    return earliest


def current_policy(*, db_session: Session, fund_id: uuid.UUID) -> FundPolicy:
    get_fund(db_session=db_session, fund_id=fund_id)
    return policy_for(db_session=db_session, fund_id=fund_id, period=current_period())


def policy_history(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    limit: int | None = None,
    after_period: str | None = None,
) -> list[FundPolicy]:
    """The fund's policy versions by effective period (one per period), oldest first."""
    get_fund(db_session=db_session, fund_id=fund_id)
    query = select(FundPolicy).where(col(FundPolicy.fund_id) == fund_id)
    if after_period is not None:
        query = query.where(col(FundPolicy.effective_period) > after_period)
    query = query.order_by(col(FundPolicy.effective_period))
    if limit is not None:
        query = query.limit(limit)
    return list(db_session.exec(query).all())


def set_policy(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    effective_period: str,
    rules: PolicyFields,
    actor: str,
    request_id: str | None = None,
    today: str | None = None,
) -> FundPolicy:
    """Record the policy from `effective_period` on, replacing that period's version.

    Refused for a past period (`today` is the current month, for tests).
    """
    get_fund(db_session=db_session, fund_id=fund_id)
    today = today or current_period()
    if effective_period < today:
        raise PolicyPeriodPast(
            f"{effective_period} is past (this is {today}): "
            "a policy may be set from the current month on."
        )
    # Lock the fund row so two coordinators' changes to one period queue up (and an
    # issuance, which locks it too, waits or is waited for).
    db_session.exec(select(Fund).where(col(Fund.id) == fund_id).with_for_update()).one()
    issued = db_session.exec(
        select(HouseholdIssuance.period)
        .where(
            col(HouseholdIssuance.fund_id) == fund_id,
            col(HouseholdIssuance.period) >= effective_period,
        )
        .order_by(col(HouseholdIssuance.period).desc())
        .limit(1)
    ).first()
    if issued is not None:
        raise PolicyPeriodIssued(
            f"Credits for {issued} are issued under the policy in force: set the new one"
            f" from {periods.shift(issued, 1)} on."
        )
    before = policy_for(db_session=db_session, fund_id=fund_id, period=effective_period)
    before_values = policy_as_dict(before)
    version = before if before.effective_period == effective_period else None
    if version is None:
        version = FundPolicy(
            fund_id=fund_id, effective_period=effective_period, created_by=actor, **_columns(rules)
        )
    else:
        for field, value in _columns(rules).items():
            setattr(version, field, value)
        version.created_at = utcnow()
        version.created_by = actor
    db_session.add(version)
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="policy.update",
        target_type="fund_policy",
        target_id=version.id,
        fund_id=fund_id,
        before=before_values,
        after=policy_as_dict(version),
        request_id=request_id,
    )
    return version
