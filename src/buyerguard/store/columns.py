"""What every table is built from: the metadata with its naming rules, UTC instants,
money columns, the id type and keys compared by code point."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, MetaData, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on SQLite (which drops offsets) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused by the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def money(name: str, **kwargs: Any) -> Column[int]:
    return Column(name, BigInteger, nullable=False, **kwargs)


def code_point_string(length: int) -> TypeEngine[str]:
    """A key that sorts and compares by code point on both backends, so lists and their
    cursors page alike: SQLite's own BINARY order; collation "C" on PostgreSQL, whose
    database collation may be a language's (en_US: case and punctuation ignored)."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


ID = code_point_string(64)
