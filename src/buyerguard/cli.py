"""The `buyerguard` command: its groups, and the set-up, ledger, money-out, rulebook and
logistics commands (running and feeding the engine: cli_processes.py). A refused input
exits 2 with one line on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from buyerguard.cli_common import configured_runtime, console, refusals_exit_2
from buyerguard.cli_processes import facts_app, scheduler_app, serve, timers_app
from buyerguard.clock import (
    format_instant,
    get_clock,
    local_date,
    parse_instant,
    require_local_date,
)
from buyerguard.errors import InvalidInput
from buyerguard.money import format_fen
from buyerguard.rulebook import describe_keys, load_rulebook_dir, render_value, rulebooks

if TYPE_CHECKING:  # imported where used: a command loads only what it needs
    from sqlalchemy import Connection

    from buyerguard.domain.cases import Case

app = typer.Typer(
    help="buyerguard: buyer-protection engine for B2B marketplaces.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo marketplace.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
ledger_app = typer.Typer(help="Double-entry ledger.", no_args_is_help=True)
rulebook_app = typer.Typer(help="Effective-dated rulebooks.", no_args_is_help=True)
shipments_app = typer.Typer(
    help="Shipment history (for promises and sign rates).", no_args_is_help=True
)
eta_app = typer.Typer(help="Delivery promises 预计达.", no_args_is_help=True)
badge_app = typer.Typer(help="The arrival badge 亮标.", no_args_is_help=True)
payouts_app = typer.Typer(help="Payouts to merchants.", no_args_is_help=True)
instructions_app = typer.Typer(
    help="Instructions to pay out (payouts, refunds, compensation) and their outcomes.",
    no_args_is_help=True,
)
cases_app = typer.Typer(
    help="After-sales cases: state, goods, money, the running deadline and history.",
    no_args_is_help=True,
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
):
    app.add_typer(sub_app, name=name)
app.command("serve")(serve)

RulebookDir = Annotated[
    Path | None, typer.Option("--rulebooks", help="Rulebook directory (default: ./rulebooks)")
]
AsJson = Annotated[
    bool, typer.Option("--json", help="print the API's JSON shape instead of a table")
]


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


@ledger_app.command("check")
@refusals_exit_2
def ledger_check(
    full: Annotated[
        bool, typer.Option("--full", help="re-derive everything, not only since the checkpoint")
    ] = False,
) -> None:
    """Re-derive balances from raw postings; exit 1 with a report on any breach.

    From the latest checkpoint on (`--full`, or no checkpoint yet: from the
    start); a full pass that finds no breach writes a new checkpoint.
    """
    from rich.markup import escape
    from rich.progress import TaskID

    from buyerguard.ledger.checkpoint import run_ledger_check
    from buyerguard.progress import progress_bar

    rt = configured_runtime()
    with progress_bar(console) as bar:
        tasks: dict[str, TaskID] = {}

        def show(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done, total=total)

        report = run_ledger_check(rt.engine, rt.clock.now(), full=full, progress=show)
    if report.full:
        console.print(f"full pass: {report.new_entries} entries re-derived")
    else:
        console.print(
            f"incremental from checkpoint {report.checkpoint_from}: {report.new_entries} "
            f"entries re-derived after it (run --full to re-derive everything)"
        )
    console.print(
        f"{report.accounts} accounts, {report.transfers} transfers, {report.entries} entries; "
        f"posted debits {format_fen(report.total_debits_posted_fen)} = credits "
        f"{format_fen(report.total_credits_posted_fen)}"
    )
    if report.checkpoint_written is not None:
        console.print(
            f"checkpoint {report.checkpoint_written} written (entries up to id "
            f"{report.horizon_entry_id})"
        )
    elif report.checkpoint_note:
        console.print(report.checkpoint_note)
    if not report.ok:
        for breach in report.breaches:
            console.print(f"[red]BREACH[/red] {escape(breach)}")
        if report.breaches_omitted:
            console.print(f"[red]BREACH[/red] … and {report.breaches_omitted} more")
        raise typer.Exit(1)
    console.print("[green]ledger check passed[/green]")


@ledger_app.command("trial-balance")
@refusals_exit_2
def ledger_trial_balance(
    day: Annotated[
        str | None, typer.Option("--date", help="Shanghai date (default: today)")
    ] = None,
) -> None:
    """Posted debits and credits per account at the end of a Shanghai day."""
    from buyerguard.ledger.check import trial_balance
    from buyerguard.store.db import read_transaction

    try:
        as_of = date.fromisoformat(day) if day else local_date(get_clock().now())
    except ValueError as exc:
        raise InvalidInput("date_malformed", f"not a date: {day!r}", "date") from exc
    require_local_date(as_of, field="date")
    rt = configured_runtime()
    with read_transaction(rt.engine) as connection:
        lines = trial_balance(connection, as_of)
    table = Table("account", "debits", "credits", "net (Dr-Cr)", title=f"trial balance {as_of}")
    for line in lines:
        table.add_row(
            line.account_id,
            format_fen(line.debits_fen, thousands=True),
            format_fen(line.credits_fen, thousands=True),
            format_fen(line.net_fen, thousands=True),
        )
    debits = sum(line.debits_fen for line in lines)
    credits = sum(line.credits_fen for line in lines)
    table.add_row(
        "TOTAL", format_fen(debits, thousands=True), format_fen(credits, thousands=True), ""
    )
    console.print(table)


@rulebook_app.command("show")
@refusals_exit_2
def rulebook_show(
    at: Annotated[str | None, typer.Option(help="instant (default: now)")] = None,
    directory: RulebookDir = None,
) -> None:
    """The rulebook in force at an instant, every key with its value and meaning."""
    instant = parse_instant(at, field="at") if at else get_clock().now()
    books = load_rulebook_dir(directory) if directory else rulebooks()
    book = books.at(instant)
    console.print(
        f"[bold]{book.id}[/bold] — {book.title}\n"
        f"effective from {format_instant(book.effective_from)} ({book.source})"
    )
    flat = book.flat()
    if not console.is_terminal:  # piped: one greppable line per key, nothing truncated
        for key, doc in describe_keys():
            print(f"{key} = {render_value(flat[key])}  # {doc}")
        return
    table = Table("key", "value", "meaning")
    table.columns[0].no_wrap = True
    for key, doc in describe_keys():
        table.add_row(key, render_value(flat[key]), doc)
    console.print(table)


@rulebook_app.command("diff")
@refusals_exit_2
def rulebook_diff(first: str, second: str, directory: RulebookDir = None) -> None:
    """Keys whose values differ between two rulebooks (by id)."""
    books = load_rulebook_dir(directory) if directory else rulebooks()
    left, right = books.by_id(first).flat(), books.by_id(second).flat()
    table = Table("key", first, second, title=f"{first} → {second}")
    for key in sorted(left):
        if left[key] != right[key]:
            table.add_row(key, render_value(left[key]), render_value(right[key]))
    console.print(table if table.row_count else f"{first} and {second} set every key alike")


@shipments_app.command("import")
@refusals_exit_2
def shipments_import(file: Path) -> None:
    """Load Parquet or CSV shipment history; one bad row refuses the whole file."""
    rt = configured_runtime(needs_schema=False)
    rows = rt.history.import_file(file, now=rt.clock.now())
    console.print(f"imported {rows} shipment(s) from {file}")


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


def _print_json(document: object) -> None:
    """One JSON document on stdout, unstyled (the API's shapes: yuan strings, ISO instants)."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


AMOUNT_COLUMNS = frozenset({"amount", "reserve moved", "debt netted"})


def _print_rows(title: str, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """A table on a terminal; piped, one tab-separated line per row, nothing truncated."""
    if not console.is_terminal:
        for row in rows:
            print("\t".join(row))
        return
    table = Table(title=title)
    for name in header:
        table.add_column(name, justify="right" if name in AMOUNT_COLUMNS else "left")
    for row in rows:
        table.add_row(*row)
    console.print(table)


@payouts_app.command("run")
@refusals_exit_2
def payouts_run(
    merchant: Annotated[
        list[str] | None,
        typer.Option("--merchant", help="pay only this merchant (repeat for more)"),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Run payouts now, as the operator: every merchant with money payable, or the named ones.

    Each merchant commits on its own: debt is netted, the reserve set to its
    share, the rest instructed as one payout when it reaches payouts.minimum_yuan.
    An unknown merchant is refused before anything runs.
    """
    from buyerguard.api.money_views import payout_run_view
    from buyerguard.services.context import OPERATOR
    from buyerguard.services.payouts import run_on_demand

    rt = configured_runtime()
    with console.status("running payouts", spinner="dots"):
        summary = run_on_demand(rt, OPERATOR, merchant or None)
    if as_json:
        _print_json(payout_run_view(summary))
        return
    rows: list[tuple[str, ...]] = [
        (
            result.merchant_id,
            result.instruction_id or "-",
            format_fen(result.amount_fen, thousands=True),
            format_fen(result.reserve_moved_fen, thousands=True),
            format_fen(result.debt_netted_fen, thousands=True),
        )
        for result in summary["results"]
    ]
    header = ("merchant", "payout", "amount", "reserve moved", "debt netted")
    _print_rows(f"payout run {summary['id']}", header, rows)
    console.print(
        f"payout run {summary['id']} as of {format_instant(summary['as_of'])}: "
        f"{summary['payouts']} payout(s) of {summary['merchants_considered']} merchant(s) "
        f"considered, total {format_fen(summary['total_fen'], thousands=True)}",
        soft_wrap=True,
    )


def _instruction_rows(rows: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return [
        (
            row["id"],
            row["kind"],
            row["party"],
            format_fen(row["amount_fen"], thousands=True),
            row["state"],
            format_instant(row["instructed_at"]),
            format_instant(row["due_by"]),
            row["order_id"] or "",
            row["failure_reason"] or "",
        )
        for row in rows
    ]


INSTRUCTION_HEADER = (
    "id",
    "kind",
    "party",
    "amount",
    "state",
    "instructed",
    "overdue after",
    "order",
    "failure",
)


def _instructions(
    state: str | None, kind: str | None, limit: int | None
) -> tuple[list[dict[str, Any]], bool, int]:
    """Instructions by id (every one when `limit` is None), whether more were left out,
    and `instructions.overdue_after_hours` in force now."""
    from buyerguard.services.context import OPERATOR
    from buyerguard.services.instructions import list_instructions

    rt = configured_runtime()
    page_size = 1000 if limit is None else min(limit + 1, 1000)
    rows: list[dict[str, Any]] = []
    with rt.reading(OPERATOR) as ctx:
        now = ctx.now()
        hours = ctx.rulebook_at(now).instructions.overdue_after_hours
        while True:
            after = rows[-1]["id"] if rows else None
            page = list_instructions(
                ctx.connection, now=now, state=state, kind=kind, after=after, limit=page_size
            )
            rows.extend(page)
            if len(page) < page_size or (limit is not None and len(rows) > limit):
                break
    more = limit is not None and len(rows) > limit
    return (rows[:limit] if limit is not None else rows), more, hours


@instructions_app.command("list")
@refusals_exit_2
def instructions_list(
    state: Annotated[
        str | None,
        typer.Option(help="instructed, executed, failed, or overdue (instructed, past its time)"),
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="payout, refund, compensation or carrier_subsidy")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    as_json: AsJson = False,
) -> None:
    """Instructions by id, with their state, when they fall overdue and why one failed."""
    from buyerguard.api.money_views import instruction_view

    rows, more, _ = _instructions(state, kind, limit)
    if as_json:
        _print_json({"items": [instruction_view(row) for row in rows], "more": more})
        return
    _print_rows(f"{len(rows)} instruction(s)", INSTRUCTION_HEADER, _instruction_rows(rows))
    console.print(
        f"{len(rows)} instruction(s)"
        + (f"; more left out (raise --limit {limit})" if more else ""),
        soft_wrap=True,
    )


@instructions_app.command("overdue")
@refusals_exit_2
def instructions_overdue(as_json: AsJson = False) -> None:
    """Every instruction still without an outcome after instructions.overdue_after_hours.

    Exits 0 even when some are overdue (this is a report, not a check); the
    last line says how many.
    """
    from buyerguard.api.money_views import instruction_view

    rows, _, hours = _instructions("overdue", None, None)
    if as_json:
        items = [instruction_view(row) for row in rows]
        _print_json({"overdue": len(rows), "overdue_after_hours": hours, "items": items})
        return
    if rows:
        _print_rows(f"{len(rows)} overdue", INSTRUCTION_HEADER, _instruction_rows(rows))
    console.print(
        f"{len(rows)} instruction(s) overdue: instructed and not reported executed or failed "
        f"within instructions.overdue_after_hours ({hours} h now)",
        soft_wrap=True,
    )


CASE_HEADER = (
    "id",
    "type",
    "order",
    "sub-order",
    "state",
    "goods",
    "requested",
    "refunded",
    "deadline",
    "due",
)


def _running_deadlines(connection: Connection, case_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The running deadline of each case (a case has at most one), in one query: the
    pending timer of a `case_deadlines.DEADLINES` kind about it."""
    from sqlalchemy import select

    from buyerguard.services.case_deadlines import DEADLINES
    from buyerguard.services.timers import PENDING, RUNNING
    from buyerguard.store.tables import timers

    if not case_ids:
        return {}
    query = select(timers.c.subject_id, timers.c.kind, timers.c.due_at).where(
        timers.c.subject_id.in_(case_ids),
        timers.c.kind.in_(list(DEADLINES)),
        timers.c.status.in_((PENDING, RUNNING)),
    )
    return {row["subject_id"]: dict(row) for row in connection.execute(query).mappings()}


def _deadline_view(timer: dict[str, Any] | None) -> dict[str, Any] | None:
    """A running deadline as `GET /v1/cases/{id}` shows it."""
    if timer is None:
        return None
    return {"kind": timer["kind"], "due_at": format_instant(timer["due_at"])}


def _cases(
    order: str | None, state: str | None, limit: int
) -> tuple[list[tuple[Case, dict[str, Any] | None]], bool]:
    """Cases by id with their running deadline, at most `limit`, and whether more were left
    out. An unknown order or state is refused before anything is listed."""
    from buyerguard.domain.cases import CaseState
    from buyerguard.services.context import OPERATOR
    from buyerguard.services.orders import load_visible_order
    from buyerguard.store.case_repository import list_cases

    if state is not None and state not in set(CaseState):
        choices = ", ".join(CaseState)
        raise InvalidInput("invalid_choice", f"state must be one of {choices}: {state!r}", "state")
    rt = configured_runtime()
    page_size = min(limit + 1, 1000)
    found: list[tuple[Case, dict[str, Any] | None]] = []
    with rt.reading(OPERATOR) as ctx:
        if order is not None:
            load_visible_order(ctx, order)
        while len(found) <= limit:
            after = found[-1][0].id if found else None
            page = list_cases(
                ctx.connection, order_id=order, state=state, after=after, limit=page_size
            )
            running = _running_deadlines(ctx.connection, [case.id for case in page])
            found.extend((case, running.get(case.id)) for case in page)
            if len(page) < page_size:
                break
    return found[:limit], len(found) > limit


@cases_app.command("list")
@refusals_exit_2
def cases_list(
    order: Annotated[str | None, typer.Option(help="only the cases of this order")] = None,
    state: Annotated[
        str | None,
        typer.Option(
            help="pending, negotiating, accepted, refused, escalated, closed or withdrawn"
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    as_json: AsJson = False,
) -> None:
    """Cases by id: type, order, state, where the goods are, the money asked and refunded,
    and the deadline running now (who must act is in `cases show`)."""
    from buyerguard.api.case_views import case_view

    found, more = _cases(order, state, limit)
    if as_json:
        items = [{**case_view(case), "deadline": _deadline_view(timer)} for case, timer in found]
        _print_json({"items": items, "more": more})
        return
    rows = [
        (
            case.id,
            case.type.value,
            case.order_id,
            case.sub_order_id,
            case.state.value,
            case.goods.value,
            format_fen(case.requested_fen, thousands=True),
            format_fen(case.refunded_fen, thousands=True),
            timer["kind"] if timer else "-",
            format_instant(timer["due_at"]) if timer else "-",
        )
        for case, timer in found
    ]
    _print_rows(f"{len(rows)} case(s)", CASE_HEADER, rows)
    console.print(
        f"{len(rows)} case(s)" + (f"; more left out (raise --limit {limit})" if more else ""),
        soft_wrap=True,
    )


def _say(text: str) -> None:
    """One plain line: never wrapped, never read as markup (notes are the parties' text)."""
    console.print(text, soft_wrap=True, markup=False, highlight=False)


def _deadline_line(timer: dict[str, Any] | None, decisions: list[dict[str, Any]]) -> str:
    """Who must act by when, under which rulebook key, and what happens if nobody does."""
    from buyerguard.services.case_deadlines import DEADLINES

    if timer is None:
        return "deadline: none running"
    deadline = DEADLINES[timer["kind"]]
    rule_id = deadline.rule_id
    for decision in decisions:  # the key it was set under (a buyer-sent return's, say)
        details = decision["details"] or {}
        if decision["kind"] == "deadline_set" and details.get("deadline") == timer["kind"]:
            rule_id = decision["rule_ids"][0]
    return (
        f"deadline: {timer['kind']} due {format_instant(timer['due_at'])}: the {deadline.who} "
        f"must act ({rule_id}), else {deadline.at_timeout}"
    )


def _or_dash(value: object) -> str:
    return "-" if value is None else str(value)


@cases_app.command("show")
@refusals_exit_2
def cases_show(case_id: str, as_json: AsJson = False) -> None:
    """One case: its state, where the goods are, the money asked, agreed and refunded, what
    it owes and what was paid (its instructions and their outcomes), the running deadline
    (who must act by when, and what happens then), every transition and every decision.

    `--json` prints what `GET /v1/cases/{id}` answers the operator.
    """
    from buyerguard.api.case_views import case_detail_view
    from buyerguard.services.cases import case_record
    from buyerguard.services.context import OPERATOR

    rt = configured_runtime()
    with rt.reading(OPERATOR) as ctx:
        record = case_record(ctx, case_id)
    case, history, decisions = record.case, record.history, record.decisions
    timer, paid = record.deadline, record.payments
    detail = case_detail_view(record)
    if as_json:
        _print_json(detail)
        return
    trigger = f" ({case.trigger})" if case.trigger else ""  # a custom dispute's failure
    _say(
        f"case {case.id}: {case.type.value}{trigger} on order {case.order_id}, sub-order "
        f"{case.sub_order_id} (buyer {case.buyer_id}, merchant {case.merchant_id})"
    )
    _say(
        f"opened {detail['opened_at']} by {case.opened_by} under rulebook {case.rulebook_id}: "
        f"{case.reason}"
    )
    closed = f", closed {detail['closed_at']}" if case.closed_at else ""
    _say(
        f"state {case.state.value}, goods {case.goods.value}, outcome "
        f"{_or_dash(detail['outcome'])}{closed}"
    )
    _say(
        f"money: requested {detail['requested']}, offered {_or_dash(detail['offered'])}, "
        f"agreed {_or_dash(detail['agreed'])}, refunded {detail['refunded']} (quick refund "
        f"{detail['quick_refunded']}), compensated {format_fen(case.compensated_fen)}; owed "
        f"{detail['owed']}, paid {detail['paid']} (its instructions, below)"
    )
    _say(_deadline_line(timer, decisions))
    _say(f"instructions ({len(paid)}):")
    _print_rows(
        "",  # the line above names the section
        ("id", "kind", "party", "amount", "state", "instructed"),
        [
            (
                row["id"],
                row["kind"],
                row["party"],
                format_fen(row["amount_fen"], thousands=True),
                row["state"],
                format_instant(row["instructed_at"]),
            )
            for row in paid
        ],
    )
    _say(f"history ({len(history)}):")
    _print_rows(
        "",  # the line above names the section
        ("when", "action", "actor", "state", "goods", "note", "evidence"),
        [
            (
                format_instant(row["occurred_at"]),
                row["action"],
                row["actor"],
                f"{row['from_state']} -> {row['to_state']}",
                f"{row['goods_from']} -> {row['goods_to']}",
                row["note"] or "",
                " ".join(item["uri"] for item in row["evidence"] or []),
            )
            for row in history
        ],
    )
    _say(f"decisions ({len(decisions)}):")
    _print_rows(
        "",  # the line above names the section
        ("when", "kind", "amount", "rule ids", "explanation"),
        [
            (
                format_instant(row["occurred_at"]),
                row["kind"],
                format_fen(row["amount_fen"], thousands=True),
                ", ".join(row["rule_ids"]),
                row["explanation"],
            )
            for row in decisions
        ],
    )


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
