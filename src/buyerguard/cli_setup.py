"""`buyerguard db|demo|token`: the schema, the demo marketplace, API tokens."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from buyerguard.cli_common import (
    configured_runtime,
    console,
    refusals_exit_2,
)
from buyerguard.clock import (
    parse_instant,
)

if TYPE_CHECKING:  # imported where used: a command loads only what it needs
    pass

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo marketplace.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)


@db_app.command("upgrade")
@refusals_exit_2
def db_upgrade() -> None:
    """Apply migrations (SQLite file by default, or $BUYERGUARD_DATABASE_URL)."""
    from buyerguard.store.migrate import upgrade

    rt = configured_runtime(needs_schema=False)
    upgrade(rt.engine)
    console.print(f"database at head: {rt.engine.url.render_as_string(hide_password=True)}")


@demo_app.command("load")
@refusals_exit_2
def demo_load() -> None:
    """Load the demo marketplace (idempotent) and print a token per role."""
    from buyerguard.demo import load_demo

    result = load_demo(configured_runtime())
    console.print(f"demo loaded; created: {', '.join(result.created) or 'nothing (already there)'}")
    table = Table("role", "token", title=f"demo tokens (kept in {result.tokens_file})")
    for role, secret in result.tokens.items():
        table.add_row(role, secret)
    console.print(table)


@demo_app.command("token")
@refusals_exit_2
def demo_token_show(role: str) -> None:
    """Print the saved demo token of a role (operator, marketplace, merchant, buyer)."""
    from buyerguard.demo import demo_token

    print(demo_token(role))


@token_app.command("create")
@refusals_exit_2
def token_create(
    role: Annotated[str, typer.Option(help="operator, marketplace, merchant or buyer")],
    party: Annotated[str | None, typer.Option(help="merchant or buyer id")] = None,
    expires: Annotated[str | None, typer.Option(help="expiry instant (ISO-8601)")] = None,
    label: Annotated[str, typer.Option(help="what the token is for")] = "",
) -> None:
    """Create a token; the secret is printed once and only its hash is stored."""
    from buyerguard.domain.parties import parse_enum
    from buyerguard.services.context import Role
    from buyerguard.services.tokens import create_token

    parsed_role = parse_enum(Role, role, "role")
    expires_at = parse_instant(expires, field="expires") if expires else None
    rt = configured_runtime()
    with rt.engine.begin() as connection:
        issued = create_token(
            connection, parsed_role, party, rt.clock.now(), expires_at=expires_at, label=label
        )
    print(issued.secret)
    print(f"token id {issued.token_id} (role {issued.role.value})", file=sys.stderr)


@token_app.command("revoke")
@refusals_exit_2
def token_revoke(token_id: str) -> None:
    """Revoke a token by its id."""
    from buyerguard.services.tokens import revoke_token

    rt = configured_runtime()
    with rt.engine.begin() as connection:
        revoke_token(connection, token_id, rt.clock.now())
    console.print(f"revoked {token_id}")
