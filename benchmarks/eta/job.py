"""The timed job, run in a child process: the production promise build and sign-rate job on
DuckDB, alone or beside the pandas reference on the same rows."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from buyerguard.analytics.eta import build_promise_table
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.sign_rate import compute_sign_rates
from buyerguard.clock import parse_instant, transit_paused
from eta.common import COMPARE_PROMISE, PROMISE, SIGN_RATE
from eta.pandas_model import pandas_job, same_results


def connect(memory_limit: str, temp_dir: Path, threads: int) -> duckdb.DuckDBPyConnection:
    temp_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET memory_limit = $v", {"v": memory_limit})
    con.execute("SET temp_directory = $v", {"v": str(temp_dir)})
    return con


def duckdb_job(
    con: duckdb.DuckDBPyConnection,
    glob: str,
    keys: str,
    as_of: datetime,
    promise: PromiseParams = PROMISE,
    paused: Callable[[date], bool] | None = transit_paused,
) -> tuple[pa.Table, pa.Table, float, float]:
    """The production build + sign-rate job; (promises, rates, eta s, sign-rate s).

    `paused`: the production build learns on normal days (public holidays from the
    calendar; the data set's window holds National Day); None counts every day."""
    t0 = time.perf_counter()
    promises = build_promise_table(con, glob, keys, as_of, promise, paused=paused)
    t1 = time.perf_counter()
    rates = compute_sign_rates(con, glob, keys, as_of, SIGN_RATE)
    t2 = time.perf_counter()
    return promises, rates, t1 - t0, t2 - t1


def child_job(args: argparse.Namespace) -> None:
    """Child process: run the DuckDB job once, write timings as JSON."""
    as_of = parse_instant(args.as_of)
    con = connect(args.memory_limit, Path(args.temp_dir), args.threads)
    paused = None if args.every_day_counts else transit_paused
    promise = replace(PROMISE, cutoff_min_parcels=0) if args.no_cutoff else PROMISE
    promises, rates, eta_s, rate_s = duckdb_job(
        con, args.glob, args.keys, as_of, promise, paused=paused
    )
    levels = pc.value_counts(promises.column("level")).to_pylist()
    result = {
        "eta_seconds": eta_s,
        "sign_rate_seconds": rate_s,
        "promise_rows": promises.num_rows,
        "promise_rows_by_level": {str(v["values"]): v["counts"] for v in levels},
        "labelled_routes": int(
            pc.sum(pc.less_equal(promises.column("promise_offset_days"), 2)).as_py() or 0
        ),
        "merchants": rates.num_rows,
        "badged": int(pc.sum(rates.column("badge_eligible")).as_py() or 0),
    }
    Path(args.result).write_text(json.dumps(result))


def child_compare(args: argparse.Namespace) -> None:
    """Child process: DuckDB then pandas on the same rows, same process."""
    as_of = parse_instant(args.as_of)
    directory = Path(args.glob).parent
    con = connect(args.memory_limit, Path(args.temp_dir), args.threads)
    t0 = time.perf_counter()
    # The pandas reference counts every day: compare the build that does too.
    promises, rates, _, _ = duckdb_job(
        con, args.glob, args.keys, as_of, COMPARE_PROMISE, paused=None
    )
    t1 = time.perf_counter()
    pd_promises, pd_rates = pandas_job(directory, as_of)
    t2 = time.perf_counter()
    result = {
        "duckdb_seconds": t1 - t0,
        "pandas_seconds": t2 - t1,
        "mismatch": same_results(promises, rates, pd_promises, pd_rates),
    }
    Path(args.result).write_text(json.dumps(result))
