"""Households, their persons, member-number counters, contributions, waivers and
direct-debit mandates."""

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from ssa.db import metadata as _metadata  # noqa: F401 (naming convention first)
from ssa.timeutil import utcnow
from ssa.types import UTCDateTime


class HouseholdStatus(StrEnum):
    active = "active"
    suspended = "suspended"
    left = "left"


class ContributionMethod(StrEnum):
    transfer = "transfer"
    cash = "cash"
    card = "card"
    direct_debit = "direct_debit"


class Household(SQLModel, table=True):
    """People who live and eat together, with what they declared and chose to pay.

    Income and identity are seen only by the household itself and the coordinator.
    """

    __tablename__ = "household"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended', 'left')", name="status"),
        CheckConstraint(
            "monthly_income_cents >= 0 AND housing_costs_cents >= 0"
            " AND other_fixed_costs_cents >= 0 AND food_budget_cents >= 0"
            " AND chosen_contribution_cents >= 0",
            name="non_negative",
        ),
        CheckConstraint("pin_failures >= 0", name="pin_failures"),
        Index("ix_household_fund_status", "fund_id", "status"),
        # What a household's claims and other rows refer to, so that their fund is its.
        Index("ix_household_id_fund", "id", "fund_id", unique=True),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id")
    member_number: str = Field(max_length=20, unique=True)
    status: HouseholdStatus = Field(default=HouseholdStatus.active, sa_type=String(10))
    address_line1: str = Field(max_length=200)
    postcode: str = Field(max_length=12)
    city: str = Field(max_length=100)
    monthly_income_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    housing_costs_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    other_fixed_costs_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    food_budget_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    chosen_contribution_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    # The household's credits account in the ledger.
    account_id: uuid.UUID = Field(foreign_key="ledger_account.id", unique=True)
    joined_on: date
    joined_period: str = Field(max_length=7)  # 'YYYY-MM' of joined_on, for set-based rules
    # The last period in which the household spent credits (dormancy).
    last_spending_period: str | None = Field(default=None, max_length=7)
    # The PIN typed at the till: HMAC-SHA256 under the server key and a per-household salt.
    pin_hash: str | None = Field(default=None, max_length=64)
    pin_salt: str | None = Field(default=None, max_length=32)
    pin_failures: int = 0
    pin_locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Person(SQLModel, table=True):
    """A member of a household; adults vote in the assembly."""

    __tablename__ = "person"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    household_id: uuid.UUID = Field(foreign_key="household.id", index=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id", index=True)
    given_name: str = Field(max_length=100)
    family_name: str = Field(max_length=100)
    birth_date: date
    email: str | None = Field(default=None, max_length=320)
    user_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", unique=True)
    # Set when the person leaves the household: kept for history, no longer counted.
    left_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MemberNumberCounter(SQLModel, table=True):
    """The last number given under a prefix: taken under a row lock, never reused."""

    __tablename__ = "member_number_counter"

    prefix: str = Field(max_length=4, primary_key=True)
    last_number: int = 0


class Contribution(SQLModel, table=True):
    """A contribution received for a period; its euros went into the bank account.

    A contribution recorded by mistake is corrected, never changed: a correction is a
    row of its own (`corrects_id`, the opposite amount, the reversal of the first one's
    ledger transaction), so that every sum of a period's contributions nets it out."""

    __tablename__ = "contribution"
    __table_args__ = (
        CheckConstraint(
            "(corrects_id IS NULL AND amount_cents > 0)"
            " OR (corrects_id IS NOT NULL AND amount_cents < 0)",
            name="amount_sign",
        ),
        UniqueConstraint("corrects_id"),
        CheckConstraint("method IN ('transfer', 'cash', 'card', 'direct_debit')", name="method"),
        Index("ix_contribution_fund_period", "fund_id", "period"),
        Index("ix_contribution_household_period", "household_id", "period"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id")
    household_id: uuid.UUID = Field(foreign_key="household.id")
    period: str = Field(max_length=7)
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    method: ContributionMethod = Field(sa_type=String(20))
    received_on: date
    transaction_id: uuid.UUID = Field(foreign_key="ledger_transaction.id")
    recorded_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    corrects_id: uuid.UUID | None = Field(default=None, foreign_key="contribution.id")
    correction_reason: str | None = Field(default=None, max_length=200)


class ContributionWaiver(SQLModel, table=True):
    """A period a household need not pay for, granted for hardship."""

    __tablename__ = "contribution_waiver"
    __table_args__ = (UniqueConstraint("household_id", "period"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id", index=True)
    household_id: uuid.UUID = Field(foreign_key="household.id")
    period: str = Field(max_length=7)
    reason: str = Field(max_length=500)
    granted_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ContributionChange(SQLModel, table=True):
    """A household's chosen contribution changed from `from_period` on: before it, back
    to the previous change (or to joining), `previous_cents` was due each month.

    The household's `chosen_contribution_cents` is what is due from its latest change on;
    a month is owed what was agreed for it, so a later change does not make a month paid
    in full late, nor one left unpaid settled.
    """

    __tablename__ = "contribution_change"
    __table_args__ = (
        UniqueConstraint("household_id", "from_period"),
        CheckConstraint("previous_cents >= 0", name="previous_non_negative"),
        ForeignKeyConstraint(["household_id", "fund_id"], ["household.id", "household.fund_id"]),
        Index("ix_contribution_change_fund_period", "fund_id", "from_period"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fund_id: uuid.UUID
    household_id: uuid.UUID
    from_period: str = Field(max_length=7)
    previous_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    changed_by: str = Field(max_length=200)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MandateStatus(StrEnum):
    active = "active"
    revoked = "revoked"  # kept for history: a bank may ask about a past collection


class DirectDebitMandate(SQLModel, table=True):
    """A household's SEPA Core direct-debit mandate: the fund may collect its contribution
    from the debtor's account. At most one is active per household; a revoked or replaced
    one is kept.

    The IBAN is personal data: seen by the household's members, the coordinator and the
    treasurer only, and never written whole to the audit log.
    """

    __tablename__ = "direct_debit_mandate"
    __table_args__ = (
        # The unique mandate reference (UMR) is unique per creditor, i.e. per fund.
        UniqueConstraint("fund_id", "reference"),
        CheckConstraint("status IN ('active', 'revoked')", name="status"),
        CheckConstraint(
            "(status = 'active' AND revoked_at IS NULL)"
            " OR (status = 'revoked' AND revoked_at IS NOT NULL)",
            name="revoked_at",
        ),
        Index(
            "uq_direct_debit_mandate_household_active",
            "household_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_direct_debit_mandate_household_id", "household_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id")
    household_id: uuid.UUID = Field(foreign_key="household.id")
    # The unique mandate reference: at most 35 characters of the SEPA identifier set.
    reference: str = Field(max_length=35)
    debtor_name: str = Field(max_length=70)  # the account holder
    iban: str = Field(max_length=34)  # compact form
    bic: str | None = Field(default=None, max_length=11)
    signed_on: date
    status: MandateStatus = Field(default=MandateStatus.active, sa_type=String(10))
    # When the current debtor account was recorded: the first collection after it is FRST.
    account_since: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: str | None = Field(default=None, max_length=200)


class DirectDebitRunStatus(StrEnum):
    open = "open"  # produced: the bank may have it, its debits are not sent again
    cancelled = "cancelled"  # the bank never received it: its households may be collected


class DirectDebitRun(SQLModel, table=True):
    """A direct-debit file produced for a fund's period (a pain.008 message): what was
    sent to be collected, so that a later file of the period does not debit anyone twice."""

    __tablename__ = "direct_debit_run"
    __table_args__ = (
        UniqueConstraint("message_id"),
        CheckConstraint("status IN ('open', 'cancelled')", name="status"),
        CheckConstraint(
            "(status = 'open' AND cancelled_at IS NULL)"
            " OR (status = 'cancelled' AND cancelled_at IS NOT NULL)",
            name="cancelled_at",
        ),
        Index("ix_direct_debit_run_fund_period", "fund_id", "period"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fund_id: uuid.UUID = Field(foreign_key="fund.id")
    period: str = Field(max_length=7)
    message_id: str = Field(max_length=35)  # the file's MsgId
    collection_date: date
    status: DirectDebitRunStatus = Field(default=DirectDebitRunStatus.open, sa_type=String(10))
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    cancelled_by: str | None = Field(default=None, max_length=200)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReturnReason(StrEnum):
    """Why the bank returned a direct debit (the ISO 20022 reason codes of SEPA R-transactions,
    as on the bank's return notice)."""

    AC01 = "AC01"  # account identifier incorrect
    AC04 = "AC04"  # account closed
    AC06 = "AC06"  # account blocked
    AG01 = "AG01"  # transaction forbidden on this account
    AG02 = "AG02"  # invalid bank operation code
    AM04 = "AM04"  # insufficient funds
    AM05 = "AM05"  # duplicate collection
    BE05 = "BE05"  # creditor identifier incorrect
    CNOR = "CNOR"  # creditor bank not reachable
    DNOR = "DNOR"  # debtor bank not reachable
    FF01 = "FF01"  # invalid file format
    MD01 = "MD01"  # no mandate
    MD02 = "MD02"  # mandate data missing or incorrect
    MD06 = "MD06"  # refund requested by the debtor
    MD07 = "MD07"  # debtor deceased
    MS02 = "MS02"  # refused by the debtor, reason not given
    MS03 = "MS03"  # refused by the bank, reason not given
    RC01 = "RC01"  # BIC incorrect
    RR01 = "RR01"  # regulatory: debtor account or identification missing
    RR02 = "RR02"  # regulatory: debtor name or address missing
    RR03 = "RR03"  # regulatory: creditor name or address missing
    RR04 = "RR04"  # regulatory reason
    SL01 = "SL01"  # specific service offered by the debtor's bank


# Returns after which the same debit may simply be presented again (money short this time,
# a bank unreachable or a file refused for its form). After any other (account closed, no
# mandate, refused by the debtor, a duplicate...) the household is collected again only
# once its mandate has been amended or replaced.
RETRYABLE_RETURNS = frozenset(
    {ReturnReason.AM04, ReturnReason.MS03, ReturnReason.CNOR, ReturnReason.DNOR, ReturnReason.FF01}
)


class DirectDebitRunLine(SQLModel, table=True):
    """One debit of a run: a household's contribution for the run's period. A debit the
    bank returned (an R-transaction: insufficient funds, account closed...) says so; its
    household is then collected again by the next file of the period."""

    __tablename__ = "direct_debit_run_line"
    __table_args__ = (
        UniqueConstraint("run_id", "household_id"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("sequence_type IN ('FRST', 'RCUR')", name="sequence_type"),
        CheckConstraint(
            "(returned_at IS NULL AND returned_by IS NULL AND return_reason IS NULL)"
            " OR (returned_at IS NOT NULL AND returned_by IS NOT NULL"
            " AND return_reason IS NOT NULL)",
            name="returned",
        ),
        Index("ix_direct_debit_run_line_household_id", "household_id"),
        Index("ix_direct_debit_run_line_mandate_id", "mandate_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    run_id: uuid.UUID = Field(foreign_key="direct_debit_run.id")
    household_id: uuid.UUID = Field(foreign_key="household.id")
    mandate_id: uuid.UUID = Field(foreign_key="direct_debit_mandate.id")
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    sequence_type: str = Field(max_length=4)
    end_to_end_id: str = Field(max_length=35)
    returned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    returned_by: str | None = Field(default=None, max_length=200)
    return_reason: str | None = Field(default=None, max_length=4)
