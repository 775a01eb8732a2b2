"""What every part of the 1688-scale promise benchmarks shares: the rulebook's parameters,
time units, array types and the console, so that each part reads and prints them the same way."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rich.console import Console

from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.sign_rate import SignRateParams
from buyerguard.clock import parse_instant
from buyerguard.rulebook import rulebook_at

OUT_ROOT = Path(__file__).resolve().parents[1] / "out"

RULEBOOK = rulebook_at(parse_instant("2024-10-15"))
PROMISE = PromiseParams.from_rulebook(RULEBOOK)
# The pandas baseline implements the rulebook's model (observed window, lost rule,
# shrinkage toward the parent route), so the DuckDB-vs-pandas comparison runs the very
# job that is timed (`PROMISE.old_model()` works too).
COMPARE_PROMISE = PROMISE
SIGN_RATE = SignRateParams.from_rulebook(RULEBOOK)

US = 1_000_000
HOUR_US = 3_600 * US
DAY_US = 24 * HOUR_US

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

console = Console()


def instant_us(instant: datetime) -> int:
    """µs since the epoch of an aware instant, exactly (no float seconds)."""
    return (instant - datetime.fromtimestamp(0, instant.tzinfo)) // timedelta(microseconds=1)
