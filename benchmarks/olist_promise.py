"""Delivery-promise quality on real data (Olist) and label reliability (synthetic China).

Usage (from the repository root):
    .venv/bin/python benchmarks/olist_promise.py [--data DIR] [--china-only | --skip-china]

By default both sections run the production build with the rulebook's model
(lost after `lost_after_days`, window over observation days, hazard
shrinkage toward the parent route) and `--undelivered unshipped`.

Olist section: replays the Olist public dataset (CC BY-NC-SA 4.0, © Olist)
walk-forward, one local day at a time. The promise table for day D is built by
the production code (`create_promise_table`) as of 00:00 Shanghai on D, from
what was known then: parcels delivered after that instant count as in
transit (right-censored). Orders purchased on D are then looked up with the
production back-off (`lookup_promises_sql`). For delivered orders purchased
2017-03-01 .. 2018-08-31 we print our on-time rate (delivered local date ≤
promised date) and mean promised days next to Olist's own estimate, for each
trailing window and confidence: the trade-off curve.

Mapping: paid_at = order_purchase_timestamp and signed_at =
order_delivered_customer_date, naive wall-clock read in Asia/Shanghai;
merchant = seller (the order's first item); origin region/province
`BR-<seller_state>`, origin city `BR-<state>/<seller_city>`; destination
`BR-<customer_state>`; one carrier `olist`; no product ids, so level 1 never
applies. Canceled/unavailable orders never handed to the carrier are
"refunded before shipment" (the data has no cancel time, so they are left
out of history from the start: a small, stated look-ahead); with
`--undelivered unshipped` (the default) that is every order never handed to
a carrier and never delivered (see `load_olist`).

Model variants: `--variant` replays the prototype build (`Variant`,
`variant_table_sql`: lost-parcel rule, period window, hazard shrinkage toward
the parent route) instead of `eta.create_promise_table`, served by the same
production lookup, for experiments. Production now implements the prototype's
winning settings; `--check-variant` checks that Variant() equals production's
round-1 model (`PromiseParams.old_model()`) and that Variant(60, period, 20)
equals production's default model, on a few days.

China section: a synthetic history (GB/T 2260 provinces and cities, about
half of the parcels signed within 3 local days) replayed the same way, to
check that shown labels (today / tomorrow / the day after) hold ≥ 90% of the
time.

Nothing derived from the Olist data is written anywhere; figures go to stdout.
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path

from promise_replay.china import run_china
from promise_replay.common import DEFAULT_PROMISE
from promise_replay.olist_curve import run_olist
from promise_replay.olist_data import CONFIDENCES, WINDOWS_DAYS
from promise_replay.variant import Variant, check_variant

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "olist"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Olist Parquet folder")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--china-only", action="store_true", help="only the synthetic China part")
    group.add_argument("--skip-china", action="store_true", help="only the Olist part")
    parser.add_argument(
        "--windows", default=",".join(map(str, WINDOWS_DAYS)), help="trailing windows, days"
    )
    parser.add_argument(
        "--confidences", default=",".join(map(str, CONFIDENCES)), help="confidence levels"
    )
    parser.add_argument("--min-samples", type=int, default=DEFAULT_PROMISE.min_samples)
    parser.add_argument(
        "--undelivered", choices=("censor", "unshipped", "none", "exclude"), default="unshipped"
    )
    parser.add_argument(
        "--variant", action="store_true", help="the prototype build (Variant) instead of eta.py"
    )
    parser.add_argument("--lost-after", type=int, default=None, help="variant: lost after N days")
    parser.add_argument(
        "--exposure-window", action="store_true", help="variant: window over observation days"
    )
    parser.add_argument("--prior-strength", type=float, default=0.0, help="variant: shrinkage m")
    parser.add_argument(
        "--check-variant",
        action="store_true",
        help="check the prototype builds production's tables on a few days, then exit",
    )
    parser.add_argument("--seed", type=int, default=20240101, help="synthetic history seed")
    args = parser.parse_args(argv)
    variant = (
        Variant(args.lost_after, args.exposure_window, args.prior_strength)
        if args.variant
        else None
    )
    if args.check_variant:
        return check_variant(args.data)
    if not args.china_only:
        run_olist(
            args.data,
            tuple(int(w) for w in args.windows.split(",")),
            tuple(Decimal(c) for c in args.confidences.split(",")),
            args.min_samples,
            args.undelivered,
            variant,
        )
    if not args.skip_china:
        run_china(args.seed, variant)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
