"""The migrations build the schema the models describe, on both engines, and undo it."""

from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import Session

from ssa import migrations
from ssa.models import metadata
from ssa.settings import Settings


def test_upgrade_matches_the_models_and_downgrade_removes_everything(
    engine_kind: str, databases: object
) -> None:
    url = databases.empty(engine_kind)  # type: ignore[attr-defined]
    migrations.upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            assert set(metadata.tables) <= tables
            diff = compare_metadata(
                MigrationContext.configure(connection, opts={"compare_type": True}), metadata
            )
        assert diff == [], f"models and migrations disagree: {diff}"
        assert migrations.current_revisions(engine) == migrations.head_revisions()

        migrations.downgrade(url, "base")
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
            if engine_kind == "postgresql":
                leftover = connection.execute(
                    text("SELECT count(*) FROM pg_proc WHERE proname LIKE 'ssa\\_%'")
                ).scalar_one()
                assert leftover == 0

        migrations.upgrade(url)
        with engine.connect() as connection:
            assert set(metadata.tables) <= set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_the_shared_test_database_is_at_head(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert migrations.current_revisions(engine) == migrations.head_revisions()
    finally:
        engine.dispose()


def test_ledger_accounts_leave_room_for_heap_only_balance_updates(database_url: str) -> None:
    """PostgreSQL (0014): pages of ledger_account half full, so balance updates stay HOT."""
    engine = create_engine(database_url)
    try:
        if engine.dialect.name != "postgresql":
            return
        with engine.connect() as connection:
            options = connection.execute(
                text("SELECT reloptions FROM pg_class WHERE relname = 'ledger_account'")
            ).scalar_one()
        assert "fillfactor=50" in (options or [])
    finally:
        engine.dispose()


def test_a_database_with_corrections_does_not_go_back_before_them(
    fresh_database_url: Callable[[], str],
) -> None:
    """0018's downgrade refuses while corrections exist (dropping them would leave their
    reversals in the books) and leaves them, and the columns that hold them, in place."""
    from fastapi.testclient import TestClient

    from ssa.app import create_app
    from tests.conftest import People
    from tests.households.helpers import new_fund, register
    from tests.households.test_contributions import contribution, keyed

    url = fresh_database_url()
    app = create_app(Settings(database_url=url))
    engine = create_engine(url)
    try:
        people = People(app, app.state.engine)
        with TestClient(app, raise_server_exceptions=False) as client:
            fund_id = new_fund(client, people)
            coordinator = people.as_(("coordinator", fund_id))
            treasurer = people.as_(("treasurer", fund_id))
            household = register(client, fund_id, coordinator)
            recorded = client.post(
                f"/api/v1/funds/{fund_id}/contributions",
                json=contribution(household["id"]),
                headers=keyed(treasurer),
            )
            assert recorded.status_code == 201, recorded.text
            corrected = client.post(
                f"/api/v1/funds/{fund_id}/contributions/{recorded.json()['id']}/correction",
                json={"reason": "Recorded twice"},
                headers=keyed(treasurer),
            )
            assert corrected.status_code == 201, corrected.text
        app.state.engine.dispose()

        with pytest.raises(RuntimeError, match="1 contribution correction"):
            migrations.downgrade(url, "0017")

        # Not below 0018 (the later revisions' downgrades may have run before it refused).
        assert migrations.current_revisions(engine) <= {"0018"} | migrations.head_revisions()
        with engine.connect() as connection:
            corrections = connection.execute(
                text("SELECT count(*) FROM contribution WHERE corrects_id IS NOT NULL")
            ).scalar_one()
            columns = {c["name"] for c in inspect(connection).get_columns("contribution")}
        assert corrections == 1
        assert {"corrects_id", "correction_reason"} <= columns
    finally:
        app.state.engine.dispose()
        engine.dispose()


def test_a_database_with_contribution_changes_does_not_go_back_before_them(
    fresh_database_url: Callable[[], str],
) -> None:
    """0019's downgrade refuses while contribution changes exist: without them every past
    month would owe today's amount again. Nothing is dropped."""
    from ssa.db import make_engine
    from ssa.households.schemas import HouseholdPatch
    from ssa.households.service import update
    from tests.issuance.helpers import add_household, make_fund

    url = fresh_database_url()
    app_engine = make_engine(Settings(database_url=url))
    engine = create_engine(url)
    try:
        fund = make_fund(app_engine)
        household = add_household(app_engine, fund, chosen_cents=1_000)  # paid this month
        with Session(app_engine) as session:
            update(
                db_session=session,
                household=household,
                patch=HouseholdPatch(chosen_contribution_cents=2_000),
                actor="system:test",
                settings=Settings(),
            )
            session.commit()
        app_engine.dispose()

        with pytest.raises(RuntimeError, match="1 contribution change"):
            migrations.downgrade(url, "0018")

        # Stopped at 0019 (later migrations, which hold no such rows, may have gone back).
        assert migrations.current_revisions(engine) <= {"0019", *migrations.head_revisions()}
        assert migrations.current_revisions(engine)
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT count(*) FROM contribution_change")).scalar_one()
        assert kept == 1
    finally:
        app_engine.dispose()
        engine.dispose()
