"""Logistics analytics (policies.md §11): shipment history, delivery promises, sign rate.

Batch jobs here are plain DuckDB SQL over a columnar shipment history, so they
run in-process on one machine and translate directly to a distributed SQL
engine when the history outgrows it.
"""

from __future__ import annotations

from buyerguard.analytics.eta import build_promise_table, create_promise_table
from buyerguard.analytics.promise_lookup import (
    Promise,
    PromiseIndex,
    lookup_promises_sql,
    promise_for,
)
from buyerguard.analytics.promise_params import PromiseParams
from buyerguard.analytics.shipments import SHIPMENT_SCHEMA, region_levels
from buyerguard.analytics.sign_rate import (
    SignRateParams,
    badge_transitions,
    compute_sign_rates,
)

__all__ = [
    "SHIPMENT_SCHEMA",
    "Promise",
    "PromiseIndex",
    "PromiseParams",
    "SignRateParams",
    "badge_transitions",
    "build_promise_table",
    "compute_sign_rates",
    "create_promise_table",
    "lookup_promises_sql",
    "promise_for",
    "region_levels",
]
