"""`buyerguard shipments|eta|badge`: the shipment history, promises, the arrival badge."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from buyerguard.cli_common import (
    configured_runtime,
    console,
    refusals_exit_2,
)
from buyerguard.clock import (
    format_instant,
    parse_instant,
)

shipments_app = typer.Typer(
    help="Shipment history (for promises and sign rates).", no_args_is_help=True
)
eta_app = typer.Typer(help="Delivery promises 预计达.", no_args_is_help=True)
badge_app = typer.Typer(help="The arrival badge 亮标.", no_args_is_help=True)


@shipments_app.command("import")
@refusals_exit_2
def shipments_import(file: Path) -> None:
    """Load Parquet or CSV shipment history; one bad row refuses the whole file."""
    rt = configured_runtime(needs_schema=False)
    with console.status(f"importing {file}"):
        done = rt.history.import_parcels(file, now=rt.clock.now())
    console.print(
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
    with console.status("building promise table"), rt.reading(OPERATOR) as ctx:
        built = promises.build(ctx, instant)
    console.print(
        f"promise table as of {format_instant(built['as_of'])}: {built['routes']} route(s) "
        f"from {built['shipments']} shipment(s), rulebook {built['rulebook_id']}"
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
    with rt.writing(OPERATOR) as ctx:
        changes = badges.evaluate_badges(ctx, instant)
    console.print(
        f"evaluated {changes.evaluated} merchant(s) as of {format_instant(instant)}: "
        f"awarded {sorted(changes.awarded)}, withdrawn {sorted(changes.withdrawn)}"
    )
