"""The `buyerguard` command: its groups, each in a module of its own (`cli_setup`,
`cli_ledger`, `cli_logistics`, `cli_money`, `cli_cases`, `cli_processes`, `cli_timers`,
`cli_facts`). A refused input exits 2 with one line on stderr, whether the command refused it
or the command line did not parse (`cli_common.OneLineUsageErrors`)."""

from __future__ import annotations

from typing import Annotated

import typer

from buyerguard import __version__
from buyerguard.cli_cases import cases_app
from buyerguard.cli_common import OneLineUsageErrors
from buyerguard.cli_facts import facts_app
from buyerguard.cli_ledger import audit_app, ledger_app, rulebook_app
from buyerguard.cli_logistics import badge_app, eta_app, shipments_app
from buyerguard.cli_money import instructions_app, payouts_app
from buyerguard.cli_processes import openapi, scheduler_app, serve
from buyerguard.cli_setup import db_app, demo_app, token_app
from buyerguard.cli_timers import timers_app

app = typer.Typer(
    help="buyerguard: buyer-protection engine for B2B marketplaces.",
    no_args_is_help=True,
    cls=OneLineUsageErrors,
)
for sub_app, name in (
    (db_app, "db"),
    (demo_app, "demo"),
    (token_app, "token"),
    (scheduler_app, "scheduler"),
    (timers_app, "timers"),
    (facts_app, "facts"),
    (ledger_app, "ledger"),
    (rulebook_app, "rulebook"),
    (shipments_app, "shipments"),
    (eta_app, "eta"),
    (badge_app, "badge"),
    (payouts_app, "payouts"),
    (instructions_app, "instructions"),
    (cases_app, "cases"),
    (audit_app, "audit"),
):
    app.add_typer(sub_app, name=name, cls=OneLineUsageErrors)
app.command("serve")(serve)
app.command("openapi")(openapi)


def _print_version(wanted: bool) -> None:
    if wanted:
        print(f"buyerguard {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """buyerguard: buyer-protection engine for B2B marketplaces."""


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
