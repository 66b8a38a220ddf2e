"""Settings read from the SSA_* environment (pydantic-settings)."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET_KEY = "development-secret-key-change-me"  # noqa: S105 (a known placeholder)


class Settings(BaseSettings):
    """Everything an operator can set, with the embedded defaults."""

    model_config = SettingsConfigDict(env_prefix="SSA_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./ssa.db",
        description="SQLAlchemy URL; PostgreSQL as postgresql+psycopg://user@host/db",
    )
    secret_key: str = DEVELOPMENT_SECRET_KEY
    sqlite_busy_timeout_ms: int = 30_000
    database_pool_size: int = 10
    log_level: str = "INFO"
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None


@lru_cache
def get_settings() -> Settings:
    return Settings()
