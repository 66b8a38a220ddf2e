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
    # Earlier secret keys, comma-separated: tokens they signed stay valid until they expire.
    previous_secret_keys: str = ""
    token_issuer: str = "ssa"  # noqa: S105 (a name, not a secret)
    token_audience: str = "ssa-api"  # noqa: S105 (a name, not a secret)
    access_token_seconds: int = 15 * 60
    refresh_token_days: int = 30
    invitation_days: int = 7
    # Failed password logins: slowed after `login_slow_after`, locked after `login_lock_after`.
    login_slow_after: int = 3
    login_lock_after: int = 10
    login_lock_minutes: int = 15
    address_slow_after: int = 20
    address_lock_after: int = 50
    sqlite_busy_timeout_ms: int = 30_000
    # Connections a process keeps once it has needed them (opened on demand; up to
    # `database_max_overflow` more for a burst). A request holds one while it runs, and a
    # worker runs up to 40 requests at once (its thread pool): with a smaller pool,
    # connections are closed and reopened under load.
    database_pool_size: int = 30
    database_max_overflow: int = 10
    # PostgreSQL: a pooled connection idle this long is tested before use (a round trip);
    # 0 tests every checkout (SQLAlchemy's pool_pre_ping). See ssa.db.make_engine.
    database_ping_after_idle_seconds: float = 10.0
    log_level: str = "INFO"
    # Wrong PINs in a row that lock a card, and for how long.
    pin_max_attempts: int = 5
    pin_lock_minutes: int = 15
    # Mark cookies Secure (set when served over TLS, directly or behind a proxy).
    secure_cookies: bool = False
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None


@lru_cache
def get_settings() -> Settings:
    return Settings()
