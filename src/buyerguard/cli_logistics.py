"""`buyerguard shipments|eta|badge`: the shipment history, promises, the arrival badge."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from buyerguard.cli_common import (
    AsJson,
    configured_runtime,
    print_json,
    progress_console,
    refusals_exit_2,
    say,
)
from buyerguard.clock import (
    format_instant,
    parse_instant,
)
from buyerguard.progress import step, steps_bar

if TYPE_CHECKING:  # imported where used: a command loads only what it needs
    from buyerguard.services.badges import BadgeChanges
    from buyerguard.services.context import Context

shipments_app = typer.Typer(
    help="Shipment history (for promises and sign rates).", no_args_is_help=True
)
eta_app = typer.Typer(help="Delivery promises 预计达.", no_args_is_help=True)
badge_app = typer.Typer(help="The arrival badge 亮标.", no_args_is_help=True)


@shipments_app.command("import")
@refusals_exit_2
def shipments_import(
    file: Path,
    encoding: Annotated[
        str,
        typer.Option(
            help="a CSV's encoding: utf-8, or gb18030 for a GBK export (Excel on a Chinese Windows)"
        ),
    ] = "utf-8",
    as_json: AsJson = False,
) -> None:
    """Load Parquet or CSV shipment history; one bad row refuses the whole file.

    On a terminal, stderr shows the two steps (validating the whole file, then
    storing its rows) with their times; stdout gets only the summary line, or with
    `--json` `{"file", "rows", "new", "updated", "unchanged"}`; rows is every
    row of the file (new + updated + unchanged), the rows stored are new + updated.
    """
    from buyerguard.store.shipment_import import validated_import

    rt = configured_runtime(needs_schema=False)
    now = rt.clock.now()
    # What `ShipmentHistory.import_parcels` does, one step at a time for the bar.
    with steps_bar(progress_console) as bar:
        with step(bar, f"validating {file.name}"):
            rows = validated_import(file, now, encoding=encoding)
        with step(bar, f"storing {rows.num_rows:,} row(s)"):
            done = rt.history.store_parcels(rows, now)
    if as_json:
        print_json(
            {
                "file": str(file),
                "rows": rows.num_rows,
                "new": done.new,
                "updated": done.updated,
                "unchanged": done.unchanged,
            }
        )
        return
    say(
        f"imported {file}: {done.new:,} new parcel(s), {done.updated:,} updated, "
        f"{done.unchanged:,} unchanged"
    )


@eta_app.command("build")
@refusals_exit_2
def eta_build(
    as_of: Annotated[str | None, typer.Option("--as-of", help="instant (default: now)")] = None,
    as_json: AsJson = False,
) -> None:
    """Build the promise table from the trailing window and publish it to the API.

    `--json`: `{"as_of", "rulebook_id", "routes", "merchant_cutoffs", "routes_by_level",
    "shipments", "table", "built", "full_because", "changed_rows", "calendar_warning"}`,
    `calendar_warning` what to do when promises may reach past the holiday calendar's last
    day (also printed on stderr without --json), else null; `merchant_cutoffs` the
    merchants whose cut-off was observed, `routes_by_level` one `{"level", "name", "routes"}`
    per back-off level (1 finest, 5 the carrier), every level listed even when it kept no
    route; `built` is `full` here (`eta update` may fold).
    """
    _build_and_say(as_of, as_json, full=True)


@eta_app.command("update")
@refusals_exit_2
def eta_update(
    as_of: Annotated[str | None, typer.Option("--as-of", help="instant (default: now)")] = None,
    as_json: AsJson = False,
) -> None:
    """Fold the parcels changed since the served table into it (the scheduler does it hourly).

    Publishes the table `eta build` would, reading only the changed rows; builds in full when
    it must and says why (`no_sums`, `window_moved`: another as-of day, rulebook numbers or
    paused days; `cutoffs_moved`; `new_level1_routes`; docs/logistics.md). `--json` as
    `eta build`, with `built` `folded` or `full`, `full_because` and `changed_rows`.
    """
    _build_and_say(as_of, as_json, full=False)


def _build_and_say(as_of: str | None, as_json: bool, *, full: bool) -> None:
    from buyerguard.services import promises
    from buyerguard.services.context import OPERATOR

    rt = configured_runtime()
    instant = parse_instant(as_of, field="as_of") if as_of is not None else rt.clock.now()
    with rt.writing(OPERATOR) as ctx:  # a refused as-of seeds nothing
        promises.seed_slowdowns(ctx, ctx.as_of(instant))
    publish = promises.build if full else promises.update
    with (
        steps_bar(progress_console) as bar,
        step(bar, "building the promise table" if full else "updating the promise table"),
        rt.reading(OPERATOR) as ctx,
    ):
        built = publish(ctx, instant)
    if as_json:
        print_json(
            {
                "as_of": format_instant(built["as_of"]),
                "rulebook_id": built["rulebook_id"],
                "routes": built["routes"],
                "merchant_cutoffs": built["merchant_cutoffs"],
                "routes_by_level": _routes_by_level(Path(built["table"])),
                "shipments": built["shipments"],
                "table": built["table"],
                "built": built["built"],
                "full_because": built["full_because"],
                "changed_rows": built["changed_rows"],
                "calendar_warning": built["calendar_warning"],
            }
        )
        return
    how = (
        f"; folded {built['changed_rows']:,} changed row(s) in"
        if built["built"] == "folded"
        else (f"; built in full: {built['full_because']}" if built["full_because"] else "")
    )
    say(
        f"promise table as of {format_instant(built['as_of'])}: {built['routes']:,} route(s), "
        f"{built['merchant_cutoffs']:,} merchant cut-off(s) "
        f"from {built['shipments']:,} shipment(s), rulebook {built['rulebook_id']}{how}"
    )
    if built["calendar_warning"]:
        print(f"warning: {built['calendar_warning']}", file=sys.stderr)


@badge_app.command("evaluate")
@refusals_exit_2
def badge_evaluate(
    as_of: Annotated[str | None, typer.Option("--as-of", help="instant (default: now)")] = None,
    as_json: AsJson = False,
) -> None:
    """Re-evaluate the arrival badge now (the scheduler does it daily).

    Refused (exit 2, nothing written) as of an instant in the future (`as_of_in_future`) or
    before the latest badge change recorded (`as_of_before_badge_change`): the history of
    spells only goes forward (docs/logistics.md).

    `--json`: `{"as_of", "rulebook_id", "evaluated", "awarded", "withdrawn", "merchants"}`,
    `merchants` one result per merchant rated or losing the badge: its change (`awarded`,
    `withdrawn` or null), whether it holds the badge now, and the 72-hour sign-for counts
    it was judged on (zero, industry null, for a merchant with no order in the window).
    """
    from buyerguard.services import badges
    from buyerguard.services.context import OPERATOR

    rt = configured_runtime()
    instant = parse_instant(as_of, field="as_of") if as_of is not None else rt.clock.now()
    with (
        steps_bar(progress_console) as bar,
        step(bar, "evaluating sign rates"),
        rt.writing(OPERATOR) as ctx,
    ):
        changes = badges.evaluate_badges(ctx, instant)
        results = _badge_results(ctx, changes) if as_json else None
    if results is not None:
        print_json(results)
        return
    awarded = ", ".join(sorted(changes.awarded)) or "none"
    withdrawn = ", ".join(sorted(changes.withdrawn)) or "none"
    say(
        f"evaluated {changes.evaluated:,} merchant(s) as of {format_instant(instant)}: "
        f"awarded {awarded}; withdrawn {withdrawn}"
    )


def _routes_by_level(table: Path) -> list[dict[str, Any]]:
    """Rows of a built promise table per back-off level (one confidence a build, so a row is
    a route), read back from the table the build wrote."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from buyerguard.analytics.eta import LEVEL_NAMES

    counted = pc.value_counts(pq.read_table(table, columns=["level"]).column("level"))
    routes = {int(item["values"]): int(item["counts"]) for item in counted.to_pylist()}
    return [
        {"level": level, "name": name, "routes": routes.get(level, 0)}
        for level, name in sorted(LEVEL_NAMES.items())
    ]


def _badge_results(ctx: Context, changes: BadgeChanges) -> dict[str, Any]:
    """The evaluation as `badge evaluate --json` prints it, read in the transaction that
    wrote it.

    `evaluate_badges` returns only the changes, so the sign rates it judged on are computed
    again here, from the same rows (same transaction, same instant, same rulebook); at
    marketplace scale that doubles the few seconds the sign rate takes, for --json only.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from sqlalchemy import select

    from buyerguard.analytics.sign_rate import SignRateParams
    from buyerguard.store.shipment_history import ShipmentHistory
    from buyerguard.store.tables import merchant_badges, merchants

    rulebook = ctx.rulebook_at(changes.as_of, field="as_of")
    known = [row.id for row in ctx.connection.execute(select(merchants.c.id))]
    rates = ctx.history.sign_rates(
        ShipmentHistory.engine_facts(ctx.connection),
        changes.as_of,
        SignRateParams.from_rulebook(rulebook),
    )
    known_ids = pa.array(sorted(known), pa.string())
    rates = rates.filter(pc.is_in(rates.column("merchant_id"), value_set=known_ids))
    by_merchant = {row["merchant_id"]: row for row in rates.to_pylist()}
    holders = {
        row.merchant_id
        for row in ctx.connection.execute(
            select(merchant_badges.c.merchant_id).where(merchant_badges.c.until.is_(None))
        )
    }
    results = []
    for merchant_id in sorted(set(by_merchant) | holders | changes.withdrawn):
        row = by_merchant.get(merchant_id)
        change = None
        if merchant_id in changes.awarded:
            change = "awarded"
        elif merchant_id in changes.withdrawn:
            change = "withdrawn"
        results.append(
            {
                "merchant_id": merchant_id,
                "change": change,
                "badged": merchant_id in holders,
                "eligible": bool(row["badge_eligible"]) if row else False,
                "industry": row["industry"] if row else None,
                "orders": int(row["orders"]) if row else 0,
                "signed_within": int(row["signed_within"]) if row else 0,
                "industry_orders": int(row["industry_orders"]) if row else 0,
                "industry_signed_within": int(row["industry_signed_within"]) if row else 0,
            }
        )
    return {
        "as_of": format_instant(changes.as_of),
        "rulebook_id": rulebook.id,
        "evaluated": changes.evaluated,
        "awarded": sorted(changes.awarded),
        "withdrawn": sorted(changes.withdrawn),
        "merchants": results,
    }
