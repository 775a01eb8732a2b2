"""Speed of the delivery-promise build and the 72-hour sign-rate job at 1688 scale.

Usage (from the repository root):
    .venv/bin/python benchmarks/eta_scale.py --rows 120000000 [--out DIR] [--keep]
        [--against CHECKOUT [--rounds N]]

1. Writes 30 days of synthetic shipments (≈ 4 M a day at 120 M rows) to a
   directory of Parquet files in SHIPMENT_SCHEMA, one file per local day,
   generated in chunks with numpy/pyarrow: 100 k merchants, 1 M products,
   340 cities in 31 provinces (GB/T 2260-like codes), 12 carriers, 40
   industries; Zipf-like popularity for products, merchants' product counts,
   origin and destination cities, so routes have very uneven sample counts;
   pay-to-sign delays driven by merchant dispatch cut-offs, distance and
   carrier (mostly 1–4 days, with a tail); weekends and the National Day
   week lower the volume and slow dispatch; parcels still in transit at the
   as-of instant are unsigned, 1.5% are refunded before shipment, 0.3% are
   lost (never signed).
2. Times the job alone in a child process: the promise table through the
   production `build_promise_table` (what `eta build` runs) plus
   `compute_sign_rates`, on DuckDB with 2 threads, a memory limit and a
   spill directory. The parent samples the child's resident set from
   /proc every 20 ms and also reads the kernel's high-water mark (VmHWM,
   and ru_maxrss from wait4), and reports the largest: peak memory measured
   from outside the process.
3. Writes a second data set of 10 M rows with the same generator and, in
   one child process, times the same job on it with DuckDB and with a
   vectorised pandas version of the rulebook's model (observed window, lost
   parcels, Kaplan–Meier with censoring and shrinkage toward the parent
   route, all five back-off levels, sign rate and badge), checks both give
   the same tables, and prints both rates and their ratio.
4. With --against CHECKOUT (another commit's working tree, e.g. from
   `git worktree add`), times that commit's job and this one's in
   alternation on the same data, --rounds times, and prints the ratios.

Parameters come from the rulebook in force on 2024-10-15; the data spans
the 30 Shanghai days before the as-of instant (default 2024-10-15 00:00
Shanghai). The data is deleted at the end unless --keep; a kept directory
with the same rows/seed/as-of is reused instead of being rewritten.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from buyerguard.clock import SHANGHAI, parse_instant
from eta.common import OUT_ROOT, PROMISE, SIGN_RATE, console
from eta.history import generate
from eta.job import child_compare, child_job
from eta.measure import run_child

DEFAULT_OUT = OUT_ROOT / "eta_scale"
TARGET_SECONDS = 60.0
TARGET_PEAK_BYTES = 8 * 1024**3


def alternate(args: argparse.Namespace, glob: str, out: Path) -> None:
    """The job of `--against`'s checkout and this one's, alternately, same data and settings.

    The machine's speed can drift between runs (shared hosts); alternating
    both jobs in one sitting gives a ratio that drift does not bias much.
    """
    checkout = args.against.resolve()
    if not (checkout / "benchmarks" / "eta_scale.py").is_file():
        sys.exit(f"error: --against {checkout}: no benchmarks/eta_scale.py there")
    table = Table(title=f"{checkout.name} vs this checkout, alternating")
    for column in ("round", "other: eta + sign rate", "this", "ratio", "peak RSS other / this"):
        table.add_column(column, justify="right")
    for number in range(1, args.rounds + 1):
        runs = [run_child("_job", glob, args, out, checkout), run_child("_job", glob, args, out)]
        totals = [m.result["eta_seconds"] + m.result["sign_rate_seconds"] for m in runs]
        table.add_row(
            str(number),
            f"{runs[0].result['eta_seconds']:.1f} + {runs[0].result['sign_rate_seconds']:.1f}"
            f" = {totals[0]:.1f} s",
            f"{runs[1].result['eta_seconds']:.1f} + {runs[1].result['sign_rate_seconds']:.1f}"
            f" = {totals[1]:.1f} s",
            f"{totals[0] / totals[1]:.2f}×",
            f"{gib(runs[0].peak)} / {gib(runs[1].peak)}",
        )
        if runs[0].result["promise_rows"] != runs[1].result["promise_rows"]:
            console.print(
                f"[red]promise rows differ: {runs[0].result['promise_rows']:,} vs"
                f" {runs[1].result['promise_rows']:,}[/red]"
            )
    console.print(table)


def gib(n: int) -> str:
    return f"{n / 1024**3:.2f} GiB"


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "_job", "_compare"])
    parser.add_argument("--rows", type=int, default=120_000_000)
    parser.add_argument("--compare-rows", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep", action="store_true", help="keep the Parquet data")
    parser.add_argument("--seed", type=int, default=1688)
    parser.add_argument("--as-of", default="2024-10-15T00:00:00+08:00")
    parser.add_argument(
        "--every-day-counts",
        action="store_true",
        help="build without the holiday calendar (the model before it learned on normal days)",
    )
    parser.add_argument(
        "--no-cutoff", action="store_true", help="build without the merchants' cut-offs"
    )
    parser.add_argument("--memory-limit", default="6GB", help="DuckDB memory_limit")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-compare", action="store_true")
    parser.add_argument(
        "--against",
        type=Path,
        help="a checkout of another commit (e.g. a `git worktree`): time its job and this"
        " one's in alternation on the same data, --rounds times",
    )
    parser.add_argument("--rounds", type=int, default=2)
    # internal (child processes)
    parser.add_argument("--glob", help=argparse.SUPPRESS)
    parser.add_argument("--keys", help=argparse.SUPPRESS)
    parser.add_argument("--temp-dir", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> None:
    args = parse(argv)
    if args.mode == "_job":
        child_job(args)
        return
    if args.mode == "_compare":
        child_compare(args)
        return
    as_of = parse_instant(args.as_of)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    console.print(
        f"as of {as_of.astimezone(SHANGHAI):%Y-%m-%d %H:%M} Shanghai; promise {PROMISE}; "
        f"sign rate {SIGN_RATE}; DuckDB threads={args.threads}, "
        f"memory_limit={args.memory_limit}, {os.cpu_count()} CPUs"
    )
    try:
        big = out / "shipments"
        gen_s = generate(big, args.rows, as_of, args.seed, "history")
        size = sum(p.stat().st_size for p in big.glob("*.parquet"))
        how = f"generated in {gen_s:.0f} s" if gen_s else "reused"
        console.print(f"{args.rows:,} rows {how}; Parquet {gib(size)}")

        job = run_child("_job", str(big / "*.parquet"), args, out)
        r = job.result
        total = r["eta_seconds"] + r["sign_rate_seconds"]
        table = Table(title=f"eta build + sign rate on {args.rows:,} rows (child process)")
        table.add_column("measure")
        table.add_column("value", justify="right")
        table.add_row("eta build (build_promise_table)", f"{r['eta_seconds']:.1f} s")
        table.add_row("sign-rate job (compute_sign_rates)", f"{r['sign_rate_seconds']:.1f} s")
        table.add_row("job total", f"{total:.1f} s  (target ≤ {TARGET_SECONDS:.0f} s)")
        table.add_row("rows/s (rows ÷ job total)", f"{args.rows / total:,.0f}")
        table.add_row("child wall incl. start-up", f"{job.wall_seconds:.1f} s")
        table.add_row("peak RSS, 20 ms samples", gib(job.peak_rss_sampled))
        table.add_row("peak RSS, kernel high-water", gib(job.peak_rss_kernel))
        table.add_row("peak RSS (max)", f"{gib(job.peak)}  (target ≤ {gib(TARGET_PEAK_BYTES)})")
        table.add_row("promise routes by level", json.dumps(r["promise_rows_by_level"]))
        table.add_row("routes with a label (≤ day after)", f"{r['labelled_routes']:,}")
        table.add_row("merchants rated / badge-eligible", f"{r['merchants']:,} / {r['badged']:,}")
        console.print(table)
        met = total <= TARGET_SECONDS and job.peak <= TARGET_PEAK_BYTES
        console.print(f"speed target {'MET' if met else 'NOT MET'}")

        if args.against:
            alternate(args, str(big / "*.parquet"), out)
        if not args.skip_compare:
            n = min(args.rows, args.compare_rows)
            small = out / "compare"
            generate(small, n, as_of, args.seed, "comparison")
            cmp = run_child("_compare", str(small / "*.parquet"), args, out)
            c = cmp.result
            ratio = c["pandas_seconds"] / c["duckdb_seconds"]
            console.print(
                f"same job on {n:,} rows, one process: DuckDB {c['duckdb_seconds']:.1f} s "
                f"({n / c['duckdb_seconds']:,.0f} rows/s), pandas {c['pandas_seconds']:.1f} s "
                f"({n / c['pandas_seconds']:,.0f} rows/s): DuckDB is {ratio:.1f}× faster; "
                f"peak RSS of that process {gib(cmp.peak)}; results "
                + ("identical" if not c["mismatch"] else f"DIFFER: {c['mismatch']}")
            )
    finally:
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
