"""Every setting of a deployment, read in one place (environment variables `BUYERGUARD_*`).

Read afresh on each call, so a test or a child process that changes the
environment sees it; a value that does not parse is refused with the
variable's name (the CLI prints one line and exits 2, the server does not start).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from buyerguard.errors import InvalidInput

ENV_PREFIX = "BUYERGUARD_"
DEFAULT_SQLITE_PATH = Path("var") / "buyerguard.sqlite3"
LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["json", "console"]


class Settings(BaseSettings):
    """What a deployment configures; each field is `BUYERGUARD_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: the embedded SQLite file var/…"
    )
    data_dir: Path = Field(
        default=Path("var") / "data", description="shipment history and promise tables"
    )
    rulebooks_dir: Path | None = Field(
        default=None, description="the rulebooks (*.toml); default: the repository's rulebooks/"
    )
    demo_tokens: Path = Field(
        default=Path("var") / "demo-tokens.json", description="where `demo load` keeps tokens"
    )
    host: str = Field(default="127.0.0.1", min_length=1, description="where `serve` listens")
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int | None = Field(default=None, ge=1, description="API workers; default: CPUs")
    idempotency_key_days: int = Field(
        default=7, ge=1, le=3650, description="keep each Idempotency-Key (and its answer) this long"
    )
    log_level: LogLevel = "info"
    log_format: LogFormat = Field(
        default="json", description="json: one JSON object per line; console: for people"
    )

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{DEFAULT_SQLITE_PATH.resolve()}"

    @property
    def effective_workers(self) -> int:
        return self.workers or os.cpu_count() or 1


def settings() -> Settings:
    """The settings as the environment says now; a malformed one is refused, naming it."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ENV_PREFIX + str(first["loc"][0]).upper() if first["loc"] else ENV_PREFIX
        raise InvalidInput(
            "setting_invalid", f"{name}: {first['msg']} (got {first.get('input')!r})", name
        ) from None
