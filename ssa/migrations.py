"""Running and inspecting the Alembic migrations from the app and the CLI."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

_REPO_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str | None = None) -> Config:
    """The Alembic configuration: alembic.ini beside the package, or in the working folder."""
    for folder in (_REPO_ROOT, Path.cwd()):
        ini = folder / "alembic.ini"
        if ini.is_file() and (folder / "migrations").is_dir():
            config = Config(str(ini))
            config.attributes["configure_logger"] = False
            if database_url is not None:
                config.attributes["database_url"] = database_url
            return config
    raise RuntimeError("alembic.ini and migrations/ not found beside the package or here")


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())
