"""Upgrading a database filled by an earlier release carries everything over, on both backends."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from buyerguard.store.db import make_engine
from buyerguard.store.migrate import alembic_config, require_migrated, upgrade


def test_timers_and_decisions_of_release_0002_upgrade_unchanged(blank_database_url: str) -> None:
    command.upgrade(alembic_config(blank_database_url), "0002")
    engine = make_engine(blank_database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO timers (id, kind, subject_id, due_at, status, created_at) VALUES "
                "('order.auto_confirm:O1', 'order.auto_confirm', 'O1', "
                "'2024-10-30 02:00:00+00:00', 'pending', '2024-10-20 02:00:00+00:00'), "
                "('order.complete:O2', 'order.complete', 'O2', "
                "'2024-10-25 02:00:00+00:00', 'fired', '2024-10-18 02:00:00+00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO decisions (id, seq, kind, subject_id, order_id, amount_fen, payer, "
                "payee, rule_ids, rulebook_id, explanation, details, occurred_at, recorded_at) "
                "VALUES ('fee_charged:O1-1', 1, 'fee_charged', 'O1-1', 'O1', 216, "
                "'merchant:M1', 'platform', '[\"fees.rate\"]', '2024-10-15', '0.006 x 360.00', "
                "'{}', '2024-10-20 02:00:00+00:00', '2024-10-20 02:00:00+00:00')"
            )
        )
    upgrade(engine)
    require_migrated(engine)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, status, attempts, payload, last_error, "
                "due_at = available_at AS same FROM timers ORDER BY id"
            )
        ).all()
        decision = connection.execute(text("SELECT id, sequence FROM decisions")).one()
    engine.dispose()
    assert tuple(decision) == ("fee_charged:O1-1", 1)
    assert [(r.id, r.status, r.attempts, r.last_error, bool(r.same)) for r in rows] == [
        ("order.auto_confirm:O1", "pending", 0, None, True),
        ("order.complete:O2", "fired", 0, None, True),
    ]
    assert all(r.payload in ({}, "{}") for r in rows)


def test_the_migrations_build_exactly_the_tables_the_code_declares(blank_database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from buyerguard.store.tables import metadata

    engine = make_engine(blank_database_url)
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []


def test_the_migrations_collate_exactly_the_columns_the_code_declares(
    blank_database_url: str,
) -> None:
    """Alembic's comparison leaves collations out: the keys compared by code point on
    PostgreSQL (`code_point_string`) are checked here, column by column."""
    from sqlalchemy import String, inspect

    from buyerguard.store.tables import metadata

    engine = make_engine(blank_database_url)
    upgrade(engine)
    dialect = engine.dialect
    inspector = inspect(engine)
    for table in metadata.sorted_tables:
        found = {column["name"]: column["type"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            declared = column.type.dialect_impl(dialect)
            if isinstance(declared, String):
                collation = getattr(found[column.name], "collation", None)
                assert (table.name, column.name, collation) == (
                    table.name,
                    column.name,
                    declared.collation,
                )
    engine.dispose()
