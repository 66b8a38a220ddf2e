"""outlets and payments

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

Outlets and their standing in each fund (with history), payments, refunds and payment
requests; the role grants' outlet now refers to an outlet.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outlet",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("siret", sa.String(length=14), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("address_line1", sa.String(length=200), nullable=False),
        sa.Column("postcode", sa.String(length=12), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "category IN ('farm_shop', 'market_stall', 'cooperative', 'grocer', 'bakery', 'butcher', 'fishmonger', 'restaurant', 'other')",
            name=op.f("ck_outlet_category"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outlet")),
        sa.UniqueConstraint("siret", name=op.f("uq_outlet_siret")),
    )
    op.create_table(
        "outlet_status_change",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("outlet_id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=12), nullable=True),
        sa.Column("to_status", sa.String(length=12), nullable=False),
        sa.Column("decision_reference", sa.String(length=200), nullable=True),
        sa.Column("proposal_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["fund.id"], name=op.f("fk_outlet_status_change_fund_id_fund")
        ),
        sa.ForeignKeyConstraint(
            ["outlet_id"], ["outlet.id"], name=op.f("fk_outlet_status_change_outlet_id_outlet")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outlet_status_change")),
    )
    with op.batch_alter_table("outlet_status_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outlet_status_change_outlet_id"), ["outlet_id"], unique=False
        )

    op.create_table(
        "outlet_fund",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("outlet_id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("payable_account_id", sa.Uuid(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('applicant', 'accredited', 'suspended', 'revoked')",
            name=op.f("ck_outlet_fund_status"),
        ),
        sa.ForeignKeyConstraint(["fund_id"], ["fund.id"], name=op.f("fk_outlet_fund_fund_id_fund")),
        sa.ForeignKeyConstraint(
            ["outlet_id"], ["outlet.id"], name=op.f("fk_outlet_fund_outlet_id_outlet")
        ),
        sa.ForeignKeyConstraint(
            ["payable_account_id"],
            ["ledger_account.id"],
            name=op.f("fk_outlet_fund_payable_account_id_ledger_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outlet_fund")),
        sa.UniqueConstraint("outlet_id", "fund_id", name=op.f("uq_outlet_fund_outlet_id_fund_id")),
        sa.UniqueConstraint("payable_account_id", name=op.f("uq_outlet_fund_payable_account_id")),
    )
    with op.batch_alter_table("outlet_fund", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outlet_fund_fund_id"), ["fund_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outlet_fund_outlet_id"), ["outlet_id"], unique=False)

    op.create_table(
        "payment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("outlet_id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("refunded_cents", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("taken_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_payment_amount_positive")),
        sa.CheckConstraint(
            "refunded_cents >= 0 AND refunded_cents <= amount_cents",
            name=op.f("ck_payment_refunds_bounded"),
        ),
        sa.ForeignKeyConstraint(["fund_id"], ["fund.id"], name=op.f("fk_payment_fund_id_fund")),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_payment_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["outlet_id"], ["outlet.id"], name=op.f("fk_payment_outlet_id_outlet")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transaction.id"],
            name=op.f("fk_payment_transaction_id_ledger_transaction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_fund_id"), ["fund_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_household_id"), ["household_id"], unique=False)
        batch_op.create_index(
            "ix_payment_outlet_created", ["outlet_id", "created_at"], unique=False
        )

    op.create_table(
        "payment_request",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("outlet_id", sa.Uuid(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'paid', 'expired', 'cancelled')",
            name=op.f("ck_payment_request_status"),
        ),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_payment_request_amount_positive")),
        sa.ForeignKeyConstraint(
            ["outlet_id"], ["outlet.id"], name=op.f("fk_payment_request_outlet_id_outlet")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_payment_request_payment_id_payment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_request")),
    )
    with op.batch_alter_table("payment_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_request_code"), ["code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_payment_request_outlet_id"), ["outlet_id"], unique=False
        )

    op.create_table(
        "refund",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("outlet_id", sa.Uuid(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("refunded_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_refund_amount_positive")),
        sa.ForeignKeyConstraint(["fund_id"], ["fund.id"], name=op.f("fk_refund_fund_id_fund")),
        sa.ForeignKeyConstraint(
            ["outlet_id"], ["outlet.id"], name=op.f("fk_refund_outlet_id_outlet")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_refund_payment_id_payment")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transaction.id"],
            name=op.f("fk_refund_transaction_id_ledger_transaction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund")),
    )
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refund_payment_id"), ["payment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refund_payment_id"))

    op.drop_table("refund")
    with op.batch_alter_table("payment_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_request_outlet_id"))
        batch_op.drop_index(batch_op.f("ix_payment_request_code"))

    op.drop_table("payment_request")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_outlet_created")
        batch_op.drop_index(batch_op.f("ix_payment_household_id"))
        batch_op.drop_index(batch_op.f("ix_payment_fund_id"))

    op.drop_table("payment")
    with op.batch_alter_table("outlet_fund", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outlet_fund_outlet_id"))
        batch_op.drop_index(batch_op.f("ix_outlet_fund_fund_id"))

    op.drop_table("outlet_fund")
    with op.batch_alter_table("outlet_status_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outlet_status_change_outlet_id"))

    op.drop_table("outlet_status_change")
    op.drop_table("outlet")
