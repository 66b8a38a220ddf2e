"""The policy rules of the service, without HTTP: which version is in force, past periods."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from ssa.funds.models import Fund
from ssa.funds.presets import GIRONDE, PRESETS, Preset
from ssa.funds.schemas import PolicyFields
from ssa.funds.service import (
    InvalidSepaCreditorId,
    PolicyPeriodPast,
    current_period,
    normalise_sepa_creditor_id,
    policy_for,
    set_policy,
)


@pytest.mark.parametrize("preset", list(Preset))
def test_every_preset_is_a_valid_policy(preset: Preset) -> None:
    PolicyFields.model_validate(PRESETS[preset])


def test_the_current_month_is_the_funds_not_utcs() -> None:
    # 23:30 UTC on 31 January is already February in Bordeaux.
    assert current_period(datetime(2027, 1, 31, 23, 30, tzinfo=UTC)) == "2027-02"
    assert current_period(datetime(2027, 1, 31, 22, 30, tzinfo=UTC)) == "2027-01"


def test_the_version_in_force_is_the_latest_not_after_the_period(
    engine: Engine, fund: Fund
) -> None:
    rules = PolicyFields.model_validate(GIRONDE)
    with Session(engine, expire_on_commit=False) as db_session:
        for period, base in (("2101-03", 1), ("2101-06", 2), ("2102-01", 3)):
            set_policy(
                db_session=db_session,
                fund_id=fund.id,
                effective_period=period,
                rules=rules.model_copy(update={"allowance_base_cents": base}),
                actor="system",
            )

        def base_in(period: str) -> int:
            return policy_for(
                db_session=db_session, fund_id=fund.id, period=period
            ).allowance_base_cents

        assert base_in("2101-02") == 15000  # the fund's first version, from its creation
        assert base_in("2101-03") == 1
        assert base_in("2101-05") == 1
        assert base_in("2101-06") == 2
        assert base_in("2101-12") == 2
        assert base_in("2300-01") == 3
        # Before every version: the earliest one.
        assert base_in("1999-01") == 15000
        db_session.rollback()


def test_the_earliest_version_applies_when_all_are_later(engine: Engine, fund: Fund) -> None:
    with Session(engine, expire_on_commit=False) as db_session:
        later = set_policy(
            db_session=db_session,
            fund_id=fund.id,
            effective_period="2200-01",
            rules=PolicyFields.model_validate(GIRONDE),
            actor="system",
            today="2150-01",
        )
        assert policy_for(db_session=db_session, fund_id=fund.id, period="2100-01").id != later.id
        with pytest.raises(PolicyPeriodPast):
            set_policy(
                db_session=db_session,
                fund_id=fund.id,
                effective_period="2149-12",
                rules=PolicyFields.model_validate(GIRONDE),
                actor="system",
                today="2150-01",
            )
        db_session.rollback()


@pytest.mark.parametrize("value", ["FR72ZZZ123456", "DE98ZZZ09999999999", "fr72 zzz 123456"])
def test_valid_sepa_creditor_ids(value: str) -> None:
    assert normalise_sepa_creditor_id(value) == "".join(value.split()).upper()


@pytest.mark.parametrize("value", ["FR73ZZZ123456", "FR72", "1272ZZZ123456", "FR72ZZZ12345é", ""])
def test_invalid_sepa_creditor_ids(value: str) -> None:
    with pytest.raises(InvalidSepaCreditorId):
        normalise_sepa_creditor_id(value)
