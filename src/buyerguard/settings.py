"""Every setting of a deployment, read in one place (environment variables `BUYERGUARD_*`).

Read afresh on each call, so a test or a child process that changes the
environment sees it; a value that does not parse is refused with the
variable's name (the CLI prints one line and exits 2, the server does not start).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from buyerguard.errors import InvalidInput

ENV_PREFIX = "BUYERGUARD_"
DEFAULT_SQLITE_PATH = Path("var") / "buyerguard.sqlite3"
LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["json", "console"]
DATABASE_BACKENDS = ("sqlite", "postgresql")

# More API workers than this is a typo, not a plan: each is a process with its own pool of
# database connections (PostgreSQL's default max_connections is 100), and `serve` would
# fork them all before one answered.
MAX_WORKERS = 64


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
    workers: int | None = Field(
        default=None, ge=1, le=MAX_WORKERS, description="API workers; default: CPUs"
    )
    idempotency_key_days: int = Field(
        default=7, ge=1, le=3650, description="keep each Idempotency-Key (and its answer) this long"
    )
    commands_per_worker: int = Field(
        default=3,
        ge=0,
        le=1000,
        description="commands an API worker runs at once; the others wait before their"
        " transaction opens, so none holds row locks while it waits for the worker; 0: no limit",
    )
    token_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=300,
        description="an accepted API token is looked up again after this many seconds, so a"
        " revoked token stops working within it; 0: on every request",
    )
    log_level: LogLevel = "info"
    log_format: LogFormat = Field(
        default="json", description="json: one JSON object per line; console: for people"
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        """`INFO` is how most tools spell a level: the choice is read whatever its case."""
        return value.lower() if isinstance(value, str) else value

    @field_validator("database_url", "data_dir", "rulebooks_dir", "demo_tokens", mode="before")
    @classmethod
    def _empty_means_the_default(cls, value: object) -> object:
        """A variable set empty (`BUYERGUARD_DATA_DIR=`) is read as unset: as a path it would
        be the current directory, and commands would write wherever they were started."""
        if value == "":
            raise PydanticUseDefault()
        return value

    @field_validator("database_url")
    @classmethod
    def _a_database_we_run_on(cls, url: str | None) -> str | None:
        """A URL SQLAlchemy parses, of SQLite or PostgreSQL: anything else would fail later
        with a traceback from deep in the first command."""
        if url is None:  # unset, or set empty: the embedded SQLite file
            return None
        try:
            backend = make_url(url).get_backend_name()
        except ArgumentError:
            raise ValueError(
                "not a database URL (sqlite:///path/to/file.sqlite3 or"
                " postgresql://user@host:5432/name)"
            ) from None
        if backend not in DATABASE_BACKENDS:
            raise ValueError(f"{backend} is not supported: use {' or '.join(DATABASE_BACKENDS)}")
        return url

    @field_validator("data_dir")
    @classmethod
    def _a_directory(cls, path: Path) -> Path:
        """Created on first use; a file in its place would fail deep in the first import."""
        if path.exists() and not path.is_dir():
            raise ValueError("is a file, not a directory")
        return path

    @field_validator("demo_tokens")
    @classmethod
    def _a_file(cls, path: Path) -> Path:
        if path.is_dir():
            raise ValueError("is a directory: name the file the tokens go to")
        return path

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
        field = str(first["loc"][0]) if first["loc"] else ""
        name = ENV_PREFIX + field.upper()
        got = first.get("input")
        if field == "database_url":  # it may hold a password: say its shape, not its value
            got = _without_password(str(got))
        raise InvalidInput(
            "setting_invalid", f"{name}: {first['msg']} (got {got!r})", name
        ) from None


def _without_password(url: str) -> str:
    """`url` as SQLAlchemy shows it with its password hidden (as every log line of ours
    does); a string that does not parse is shown only when it holds no credentials."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not shown: it may hold a password)" if "@" in url else url
