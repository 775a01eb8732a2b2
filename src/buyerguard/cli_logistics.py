"""`buyerguard shipments|eta|badge`: the shipment history, promises, the arrival badge."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from buyerguard.cli_common import (
    configured_runtime,
    progress_console,
    refusals_exit_2,
    say,
)
from buyerguard.clock import (
    format_instant,
    parse_instant,
)
from buyerguard.progress import step, steps_bar

shipments_app = typer.Typer(
    help="Shipment history (for promises and sign rates).", no_args_is_help=True
)
eta_app = typer.Typer(help="Delivery promises 预计达.", no_args_is_help=True)
badge_app = typer.Typer(help="The arrival badge 亮标.", no_args_is_help=True)


@shipments_app.command("import")
@refusals_exit_2
def shipments_import(file: Path) -> None:
    """Load Parquet or CSV shipment history; one bad row refuses the whole file.

    On a terminal, stderr shows the two steps (validating the whole file, then
    storing its rows) with their times; stdout gets only the summary line.
    """
    from buyerguard.store.shipment_import import validated_import

    rt = configured_runtime(needs_schema=False)
    now = rt.clock.now()
    # What `ShipmentHistory.import_parcels` does, one step at a time for the bar.
    with steps_bar(progress_console) as bar:
        with step(bar, f"validating {file.name}"):
            rows = validated_import(file, now)
        with step(bar, f"storing {rows.num_rows:,} row(s)"):
            done = rt.history.store_parcels(rows, now)
    say(
        f"imported {file}: {done.new:,} new parcel(s), {done.updated:,} updated, "
        f"{done.unchanged:,} unchanged"
    )


@eta_app.command("build")
@refusals_exit_2
def eta_build(
    as_of: Annotated[str | None, typer.Option("--as-of", help="instant (default: now)")] = None,
) -> None:
    """Build the promise table from the trailing window and publish it to the API."""
    from buyerguard.services import promises
    from buyerguard.services.context import OPERATOR

    rt = configured_runtime()
    instant = parse_instant(as_of, field="as_of") if as_of else rt.clock.now()
    with (
        steps_bar(progress_console) as bar,
        step(bar, "building the promise table"),
        rt.reading(OPERATOR) as ctx,
    ):
        built = promises.build(ctx, instant)
    say(
        f"promise table as of {format_instant(built['as_of'])}: {built['routes']:,} route(s) "
        f"from {built['shipments']:,} shipment(s), rulebook {built['rulebook_id']}"
    )


@badge_app.command("evaluate")
@refusals_exit_2
def badge_evaluate(
    as_of: Annotated[str | None, typer.Option("--as-of", help="instant (default: now)")] = None,
) -> None:
    """Re-evaluate the arrival badge now (the scheduler does it daily)."""
    from buyerguard.services import badges
    from buyerguard.services.context import OPERATOR

    rt = configured_runtime()
    instant = parse_instant(as_of, field="as_of") if as_of else rt.clock.now()
    with (
        steps_bar(progress_console) as bar,
        step(bar, "evaluating sign rates"),
        rt.writing(OPERATOR) as ctx,
    ):
        changes = badges.evaluate_badges(ctx, instant)
    awarded = ", ".join(sorted(changes.awarded)) or "none"
    withdrawn = ", ".join(sorted(changes.withdrawn)) or "none"
    say(
        f"evaluated {changes.evaluated:,} merchant(s) as of {format_instant(instant)}: "
        f"awarded {awarded}; withdrawn {withdrawn}"
    )
