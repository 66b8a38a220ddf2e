"""Alembic environment: runs migrations on the connection it is given, or on SSA_DATABASE_URL."""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from ssa.db import make_engine
from ssa.models import metadata
from ssa.settings import Settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = config.attributes.get("database_url") or Settings().database_url
    engine = make_engine(Settings(database_url=url))
    try:
        with engine.connect() as connection:
            run_on(connection)
    finally:  # a migration that refuses must not leave its connection open
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported: triggers differ per engine.")
run_migrations_online()
