"""The walk forward both sections share: each day's promise table built as of 00:00 from
what was known then, and that day's orders looked up in it as production does."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import duckdb

from buyerguard.analytics.promise_lookup import lookup_promises_sql
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.clock import start_of_local_day
from promise_replay.common import progress
from promise_replay.variant import Variant, create_model_table


def replay(
    con: duckdb.DuckDBPyConnection,
    days: list[date],
    windows_days: tuple[int, ...],
    confidences: tuple[Decimal, ...],
    base: PromiseParams,
    eval_table: str,
    description: str,
    variant: Variant | None = None,
) -> None:
    """Walk forward: for each day D, build as of 00:00 D and look up D's orders.

    Results accumulate in `replay_results` (one row per order, window, confidence).
    """
    con.execute(
        """
        CREATE OR REPLACE TABLE replay_results (
            window_days INTEGER, confidence DOUBLE, order_id VARCHAR,
            backoff_level TINYINT, promise_offset_days INTEGER, promised_date DATE,
            label VARCHAR, probability DOUBLE, filled_offset_days INTEGER,
            filled_date DATE)  -- filled: from the pay day, the cut-off's day included
        """
    )
    with progress() as bar:
        task = bar.add_task(description, total=len(days))
        for day in days:
            as_of = start_of_local_day(day)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE day_orders AS SELECT * FROM {eval_table}"
                " WHERE paid_at >= $start AND paid_at < $end",
                {"start": as_of, "end": start_of_local_day(day + timedelta(days=1))},
            )
            for window in windows_days:
                params = replace(base, window_days=window)
                create_model_table(con, as_of, params, variant, "promises", confidences)
                # Benchmark-only fill for orders whose route never reaches the
                # confidence: keep backing off to a level that does (Olist must
                # quote a date for every order; the engine would show none).
                con.execute(
                    "CREATE OR REPLACE TEMP TABLE promises_covered AS"
                    " SELECT * FROM promises WHERE promise_offset_days IS NOT NULL"
                )
                strict = lookup_promises_sql("promises", "day_orders", params)
                filled = lookup_promises_sql("promises_covered", "day_orders", params)
                con.execute(
                    f"""
                    INSERT INTO replay_results
                    SELECT {window}, s.confidence, s.order_id, s.backoff_level,
                           s.promise_offset_days, s.promised_date, s.label, s.probability,
                           s.start_shift_days + coalesce(s.promise_offset_days,
                               f.promise_offset_days, {params.max_horizon_days})
                               AS filled_offset_days,
                           CAST(timezone('Asia/Shanghai', s.paid_at) AS DATE)
                           + s.start_shift_days + coalesce(s.promise_offset_days,
                               f.promise_offset_days, {params.max_horizon_days}) AS filled_date
                    FROM ({strict}) s LEFT JOIN ({filled}) f
                      ON f.order_id = s.order_id AND f.confidence = s.confidence
                    """
                )
            bar.advance(task)
