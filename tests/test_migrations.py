"""The migrations build the schema the models describe, on both engines, and undo it."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from ssa import migrations
from ssa.models import metadata


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
