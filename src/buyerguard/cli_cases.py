"""`buyerguard cases list|show`: after-sales cases as the API shows them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from buyerguard.cli_common import (
    After,
    AsJson,
    configured_runtime,
    left_out,
    listed,
    print_json,
    print_rows,
    refusals_exit_2,
    say,
)
from buyerguard.clock import (
    format_instant,
)
from buyerguard.errors import InvalidInput
from buyerguard.money import format_fen, parse_yuan

if TYPE_CHECKING:  # imported where used: a command loads only what it needs
    from sqlalchemy import Connection

    from buyerguard.domain.cases import Case

cases_app = typer.Typer(
    help="After-sales cases: state, goods, money, the running deadline and history.",
    no_args_is_help=True,
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
    order: str | None, state: str | None, after: str | None, limit: int
) -> tuple[list[tuple[Case, dict[str, Any] | None]], bool]:
    """Cases by id after `after` with their running deadline, at most `limit`, and whether
    more were left out. An unknown order or state is refused before anything is listed."""
    from buyerguard.domain.cases import CaseState
    from buyerguard.services.context import OPERATOR
    from buyerguard.services.orders import load_visible_order
    from buyerguard.store.case_repository import list_cases

    if state is not None and state not in set(CaseState):
        choices = ", ".join(CaseState)
        raise InvalidInput("invalid_choice", f"state must be one of {choices}: {state!r}", "state")
    rt = configured_runtime()
    with rt.reading(OPERATOR) as ctx:
        if order is not None:
            load_visible_order(ctx, order)

        def page(start: str | None, rows: int) -> list[tuple[Case, dict[str, Any] | None]]:
            found = list_cases(ctx.connection, order_id=order, state=state, after=start, limit=rows)
            running = _running_deadlines(ctx.connection, [case.id for case in found])
            return [(case, running.get(case.id)) for case in found]

        return listed(page, lambda item: item[0].id, after, limit)


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
    after: After = None,
    as_json: AsJson = False,
) -> None:
    """Cases by id: type, order, state, where the goods are, the money asked and refunded,
    and the deadline running now (who must act is in `cases show`)."""
    from buyerguard.api.case_views import case_view

    found, more = _cases(order, state, after, limit)
    if as_json:
        items = [{**case_view(case), "deadline": _deadline_view(timer)} for case, timer in found]
        print_json({"items": items, "more": more})
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
    print_rows(f"{len(rows):,} case(s)", CASE_HEADER, rows)
    say(left_out("case(s)", [case.id for case, _ in found], limit, more))


def _grouped(amount: object) -> str:
    """An amount of the API's case view ("5359.84", or None) as people read it ("5,359.84"):
    the same figure the API answers, thousands grouped."""
    if amount is None:
        return "-"
    return format_fen(parse_yuan(amount, allow_negative=True), thousands=True)


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
        print_json(detail)
        return
    trigger = f" ({case.trigger})" if case.trigger else ""  # a custom dispute's failure
    say(
        f"case {case.id}: {case.type.value}{trigger} on order {case.order_id}, sub-order "
        f"{case.sub_order_id} (buyer {case.buyer_id}, merchant {case.merchant_id})"
    )
    say(
        f"opened {detail['opened_at']} by {case.opened_by} under rulebook {case.rulebook_id}: "
        f"{case.reason}"
    )
    closed = f", closed {detail['closed_at']}" if case.closed_at else ""
    say(
        f"state {case.state.value}, goods {case.goods.value}, outcome "
        f"{_or_dash(detail['outcome'])}{closed}"
    )
    say(
        f"money: requested {_grouped(detail['requested'])}, offered "
        f"{_grouped(detail['offered'])}, agreed {_grouped(detail['agreed'])}, refunded "
        f"{_grouped(detail['refunded'])} (quick refund {_grouped(detail['quick_refunded'])}), "
        f"compensated {_grouped(detail['compensated'])}; owed {_grouped(detail['owed'])}, "
        f"paid {_grouped(detail['paid'])} (its instructions, below)"
    )
    say(_deadline_line(timer, decisions))
    say(f"instructions ({len(paid):,}):")
    print_rows(
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
    say(f"history ({len(history):,}):")
    print_rows(
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
    say(f"decisions ({len(decisions):,}):")
    print_rows(
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
