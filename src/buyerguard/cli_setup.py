"""`buyerguard db|demo|token`: the schema, the demo marketplace, API tokens."""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from buyerguard.cli_common import (
    AsJson,
    configured_runtime,
    console,
    print_json,
    print_rows,
    refusals_exit_2,
    say,
)
from buyerguard.clock import format_instant, parse_instant

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
    say(f"database at head: {rt.engine.url.render_as_string(hide_password=True)}")


DEMO_KINDS = {"merchant": "merchants", "buyer": "buyers", "product": "products", "token": "tokens"}
"""What `demo load` may create (as `load_demo` names it) and its key in `--json`'s `created`."""


@demo_app.command("load")
@refusals_exit_2
def demo_load(as_json: AsJson = False) -> None:
    """Load the demo marketplace (idempotent) and print a token per role.

    `--json`: what this load created (the ids of merchants, buyers and products, the roles
    whose token was issued; all four lists empty when everything was there), the file the
    tokens are kept in, and each role's token with its party.
    """
    from buyerguard.demo import ROLES, load_demo

    result = load_demo(configured_runtime())
    if as_json:
        parties = {name: party_id for name, _role, party_id in ROLES}
        # `created` reads "merchant M-yiwu", "token operator": grouped by kind for scripts.
        created: dict[str, list[str]] = {kind: [] for kind in DEMO_KINDS.values()}
        for item in result.created:
            kind, name = item.split(" ", 1)
            created[DEMO_KINDS[kind]].append(name)
        print_json(
            {
                "created": created,
                "tokens_file": str(result.tokens_file),
                "tokens": [
                    {"role": role, "party_id": parties.get(role), "secret": secret}
                    for role, secret in result.tokens.items()
                ],
            }
        )
        return
    say(f"demo loaded; created: {', '.join(result.created) or 'nothing (already there)'}")
    table = Table("role", "token", title=f"demo tokens (kept in {result.tokens_file})")
    for role, secret in result.tokens.items():
        table.add_row(role, secret)
    console.print(table)


class IssuableRole(StrEnum):
    """The roles a token may carry (the scheduler's `system` role is never issued)."""

    OPERATOR = "operator"
    MARKETPLACE = "marketplace"
    MERCHANT = "merchant"
    BUYER = "buyer"


@demo_app.command("token")
@refusals_exit_2
def demo_token_show(role: IssuableRole) -> None:
    """Print the saved demo token of a role."""
    from buyerguard.demo import demo_token

    print(demo_token(role.value))


@token_app.command("create")
@refusals_exit_2
def token_create(
    role: Annotated[IssuableRole, typer.Option(help="what the token may do")],
    party: Annotated[str | None, typer.Option(help="merchant or buyer id")] = None,
    expires: Annotated[str | None, typer.Option(help="expiry instant (ISO-8601)")] = None,
    label: Annotated[str, typer.Option(help="what the token is for")] = "",
    as_json: AsJson = False,
) -> None:
    """Create a token; the secret is printed once and only its hash is stored.

    Plain: the secret alone on stdout (for `$(...)`), its id on stderr. `--json`: the token
    as `token list --json` shows it, with its secret.
    """
    from buyerguard.services.context import OPERATOR, Role
    from buyerguard.services.tokens import create_token

    parsed_role = Role(role.value)
    expires_at = parse_instant(expires, field="expires") if expires is not None else None
    rt = configured_runtime()
    with rt.writing(OPERATOR) as ctx:
        issued = create_token(ctx, parsed_role, party, expires_at=expires_at, label=label)
    if as_json:
        print_json(
            {
                "id": issued.token_id,
                "role": issued.role.value,
                "party_id": issued.party_id,
                "label": label,
                "created_at": format_instant(issued.created_at),
                "expires_at": None
                if issued.expires_at is None
                else format_instant(issued.expires_at),
                "revoked_at": None,
                "status": "active",
                "secret": issued.secret,
            }
        )
        return
    print(issued.secret)
    print(f"token id {issued.token_id} (role {issued.role.value})", file=sys.stderr)


@token_app.command("list")
@refusals_exit_2
def token_list(as_json: AsJson = False) -> None:
    """Every token (never its secret): id, role, party, label, created, expires, status."""
    from buyerguard.services.tokens import list_tokens
    from buyerguard.store.db import read_transaction

    rt = configured_runtime()
    with read_transaction(rt.engine) as connection:
        tokens = list_tokens(connection, rt.clock.now())

    def when(value: object) -> str | None:
        return format_instant(value) if isinstance(value, datetime) else None

    if as_json:
        print_json(
            [
                {
                    "id": token["id"],
                    "role": token["role"],
                    "party_id": token["party_id"],
                    "label": token["label"],
                    "created_at": when(token["created_at"]),
                    "expires_at": None
                    if token["expires_at"] is None
                    else when(token["expires_at"]),
                    "revoked_at": None
                    if token["revoked_at"] is None
                    else when(token["revoked_at"]),
                    "status": token["status"],
                }
                for token in tokens
            ]
        )
        return
    header = ("id", "role", "party", "label", "created", "expires", "status")
    rows = [
        (
            str(token["id"]),
            str(token["role"]),
            str(token["party_id"] or "-"),
            str(token["label"] or "-"),
            when(token["created_at"]) or "-",
            when(token["expires_at"]) or "-",
            str(token["status"]),
        )
        for token in tokens
    ]
    print_rows(f"{len(rows):,} token(s)", header, rows)


@token_app.command("revoke")
@refusals_exit_2
def token_revoke(token_id: str) -> None:
    """Revoke a token by its id."""
    from buyerguard.services.context import OPERATOR
    from buyerguard.services.tokens import revoke_token

    rt = configured_runtime()
    with rt.writing(OPERATOR) as ctx:
        revoke_token(ctx, token_id)
    say(f"revoked {token_id}")
