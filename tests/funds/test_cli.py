"""`ssa fund create`."""

import pytest
from click.testing import CliRunner
from sqlmodel import Session, col, select

from ssa.cli import main
from ssa.db import make_engine
from ssa.funds.models import Fund
from ssa.funds.service import policy_for
from ssa.ledger.models import LedgerAccount
from ssa.settings import Settings, get_settings
from tests.funds.helpers import VALID_IBAN, new_slug


@pytest.fixture
def runner(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SSA_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_fund_create_with_the_lyon_preset(runner: CliRunner, database_url: str) -> None:
    slug = new_slug("lyon")
    args = ["fund", "create", "--slug", slug, "--name", "Caisse de Lyon", "--iban", VALID_IBAN]
    result = runner.invoke(main, [*args, "--preset", "lyon"])
    assert result.exit_code == 0, result.output
    assert slug in result.output
    engine = make_engine(Settings(database_url=database_url))
    try:
        with Session(engine) as db_session:
            fund = db_session.exec(select(Fund).where(col(Fund.slug) == slug)).one()
            assert fund.iban == "FR7630006000011234567890189"
            policy = policy_for(db_session=db_session, fund_id=fund.id, period="2999-12")
            assert policy.allowance_per_child_cents == 4000
            assert policy.allowance_base_cents == 15000
            assert db_session.exec(
                select(LedgerAccount).where(col(LedgerAccount.fund_id) == fund.id)
            ).first()
    finally:
        engine.dispose()

    again = runner.invoke(main, [*args, "--preset", "lyon"])
    assert again.exit_code == 1
    assert "fund_slug_taken" in again.output


def test_fund_create_refuses_bad_input(runner: CliRunner) -> None:
    base = ["fund", "create", "--slug", new_slug(), "--name", "X"]
    bad_iban = runner.invoke(main, [*base, "--iban", "FR00 1234"])
    assert bad_iban.exit_code == 1
    assert "invalid_iban" in bad_iban.output
    bad_slug = runner.invoke(
        main, ["fund", "create", "--slug", "A", "--name", "X", "--iban", VALID_IBAN]
    )
    assert bad_slug.exit_code == 2
    bad_preset = runner.invoke(main, [*base, "--iban", VALID_IBAN, "--preset", "paris"])
    assert bad_preset.exit_code == 2
