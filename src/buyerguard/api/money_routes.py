"""The /v1 money-out endpoints: adjustments, payouts, instructions, balances, statements."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from buyerguard.api import money_views
from buyerguard.api.access import GuardedRoute, allow, require_own_merchant
from buyerguard.api.answers import answers
from buyerguard.api.facts import apply_fact
from buyerguard.api.long_commands import execute_long_command
from buyerguard.api.money_answers import (
    Adjustment,
    Instruction,
    InstructionPage,
    MerchantBalance,
    PayoutRun,
    PayoutSettings,
    Statement,
)
from buyerguard.api.params import CallerDep, IdCursor, Limit, MerchantId, OrderId, id_path, page
from buyerguard.api.runtime import idempotency_key, run_command, runtime
from buyerguard.api.schemas import (
    CHOICE_PATTERN,
    ID_MAX_LENGTH,
    ID_PATTERN,
    AdjustmentIn,
    ExecutionIn,
    PayoutRunIn,
    PayoutSettingsIn,
)
from buyerguard.errors import InvalidInput
from buyerguard.money import format_rate, parse_yuan
from buyerguard.services import adjustments, instructions, merchant_money, payouts, statements
from buyerguard.services.context import Actor, Context, Role
from buyerguard.store.catalogue import get_merchant

router = APIRouter(prefix="/v1", route_class=GuardedRoute)  # app.py includes it (routes.ROUTERS)

InstructionId = Annotated[str, id_path("instruction id")]
PayoutId = Annotated[str, id_path("payout id (an instruction of kind payout)")]
Month = Annotated[str, Path(pattern=r"^[0-9]{4}-[0-9]{2}$", description="Shanghai month, YYYY-MM")]
StateFilter = Annotated[
    str | None,
    Query(
        max_length=16,
        pattern=CHOICE_PATTERN,
        description="instructed, executed, failed, or overdue (instructed and past its time)",
    ),
]
MerchantFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=ID_MAX_LENGTH,
        pattern=ID_PATTERN,
        description="only this merchant's (a merchant always sees only its own)",
    ),
]


def _merchant(ctx: Context, merchant_id: str) -> None:
    """The merchant exists and the caller may see it (a merchant: itself only)."""
    require_own_merchant(ctx, merchant_id)
    get_merchant(ctx.connection, merchant_id)


# ------------------------------------------------------------------ adjustments
@router.post(
    "/orders/{order_id}/adjustments",
    status_code=201,
    tags=["money out"],
    **answers(Adjustment, 201),
    **allow(),
)
def adjust_order(
    order_id: OrderId, body: AdjustmentIn, request: Request, caller: CallerDep
) -> JSONResponse:
    """An operator's refund, clawback or compensation on a paid sub-order, up to what was
    paid, with a reason; requires an `Idempotency-Key`."""
    if idempotency_key(request) is None:
        raise InvalidInput(
            "idempotency_key_missing",
            "an adjustment moves money: send an Idempotency-Key",
            "Idempotency-Key",
        )

    def handle(ctx: Context) -> tuple[int, Any]:
        adjustment = adjustments.Adjustment(
            kind=body.kind,
            sub_order_id=body.sub_order_id,
            amount_fen=parse_yuan(body.amount, field="amount"),
            reason=body.reason,
            borne_by=body.borne_by,
        )
        return 201, money_views.adjustment_view(adjustments.adjust(ctx, order_id, adjustment))

    return run_command(request, caller, body, handle)


# ---------------------------------------------------------------------- merchants
@router.get(
    "/merchants/{merchant_id}/balance",
    tags=["money out"],
    **answers(MerchantBalance),
    **allow(Role.MARKETPLACE, Role.MERCHANT),
)
def get_merchant_balance(
    merchant_id: MerchantId, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """In escrow, payable, reserved, in flight, paid out to date and debt, from the ledger."""
    with runtime(request).reading(caller) as ctx:
        _merchant(ctx, merchant_id)
        found = merchant_money.merchant_balance(ctx, merchant_id)
        return money_views.merchant_balance_view(merchant_id, found)


@router.get(
    "/merchants/{merchant_id}/statements/{month}",
    tags=["money out"],
    **answers(Statement),
    **allow(Role.MARKETPLACE, Role.MERCHANT),
)
def get_merchant_statement(
    merchant_id: MerchantId, month: Month, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """The month's opening balance, releases, fees, refunds, clawbacks, payouts and closing
    balance (what the platform owes the merchant), exact to the ledger."""
    with runtime(request).reading(caller) as ctx:
        _merchant(ctx, merchant_id)
        found = statements.monthly_statement(ctx, merchant_id, month)
        return money_views.statement_view(found)


@router.put(
    "/merchants/{merchant_id}/payout-settings",
    tags=["money out"],
    **answers(PayoutSettings),
    **allow(),
)
def set_payout_settings(
    merchant_id: MerchantId, body: PayoutSettingsIn, request: Request, caller: CallerDep
) -> JSONResponse:
    """Set the share of this merchant's money kept back at payout (null: the rulebook's)."""

    def handle(ctx: Context) -> tuple[int, Any]:
        _merchant(ctx, merchant_id)
        share = (
            None
            if body.reserve_share is None
            else merchant_money.parse_reserve_share(body.reserve_share)
        )
        merchant_money.set_reserve_share(ctx, merchant_id, share)
        current, source = merchant_money.reserve_share(ctx, merchant_id, ctx.now())
        return 200, {
            "merchant_id": merchant_id,
            "reserve_share": format_rate(current),
            "source": source,
        }

    return run_command(request, caller, body, handle)


# ------------------------------------------------------------------------ payouts
@router.post(
    "/payouts/runs", status_code=201, tags=["money out"], **answers(PayoutRun, 201), **allow()
)
def run_payouts(
    request: Request, caller: CallerDep, body: PayoutRunIn | None = None
) -> JSONResponse:
    """Run payouts now, for every merchant with money payable or the ones named; each
    merchant's payout commits on its own."""
    merchant_ids = body.merchant_ids if body is not None else None
    rt = runtime(request)

    def work() -> tuple[int, Any]:
        summary = payouts.run_on_demand(rt, caller, merchant_ids)
        return 201, money_views.payout_run_view(summary)

    route = f"{request.method} {request.url.path}"
    key = idempotency_key(request)
    return execute_long_command(rt, caller, route, key, body, work).response()


def _list(
    request: Request,
    caller: Actor,
    *,
    kind: str | None,
    state: str | None,
    party: str | None,
    after: str | None,
    limit: int,
) -> dict[str, Any]:
    with runtime(request).reading(caller) as ctx:
        rows = instructions.list_instructions(
            ctx.connection,
            now=ctx.now(),
            state=state,
            kind=kind,
            party=party,
            after=after,
            limit=limit + 1,  # one more: whether there is another page
        )
        return page([money_views.instruction_view(row) for row in rows], limit)


@router.get(
    "/payouts",
    tags=["money out"],
    **answers(InstructionPage),
    **allow(Role.MARKETPLACE, Role.MERCHANT),
)
def list_payouts(
    request: Request,
    caller: CallerDep,
    merchant_id: MerchantFilter = None,
    state: StateFilter = None,
    after: IdCursor = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Payouts by id; a merchant sees its own."""
    if caller.role is Role.MERCHANT:
        merchant_id = caller.party_id
    party = None if merchant_id is None else f"merchant:{merchant_id}"
    return _list(
        request,
        caller,
        kind=instructions.PAYOUT,
        state=state,
        party=party,
        after=after,
        limit=limit,
    )


@router.get(
    "/payouts/{payout_id}",
    tags=["money out"],
    **answers(Instruction),
    **allow(Role.MARKETPLACE, Role.MERCHANT),
)
def get_payout(payout_id: PayoutId, request: Request, caller: CallerDep) -> dict[str, Any]:
    """One payout instruction and its outcome; a merchant reads its own."""
    with runtime(request).reading(caller) as ctx:
        row = instructions.visible_instruction(ctx, payout_id, kind=instructions.PAYOUT)
        return money_views.instruction_view(row)


@router.post(
    "/payouts/{payout_id}/execution",
    tags=["money out"],
    **answers(Instruction),
    **allow(Role.MARKETPLACE),
)
def execute_payout(
    payout_id: PayoutId, body: ExecutionIn, request: Request, caller: CallerDep
) -> JSONResponse:
    """Report a payout `executed` or `failed` (with a reason: its money returns to the
    merchant's payable for the next run). Final: the same report again answers as before."""
    key = idempotency_key(request)
    return apply_fact(runtime(request), caller, "payout-execution", payout_id, body, key).response()


# ------------------------------------------------------------------- instructions
@router.get(
    "/instructions", tags=["money out"], **answers(InstructionPage), **allow(Role.MARKETPLACE)
)
def list_instructions(
    request: Request,
    caller: CallerDep,
    state: StateFilter = None,
    kind: Annotated[
        str | None,
        Query(
            max_length=24,
            pattern=CHOICE_PATTERN,
            description=", ".join(instructions.INSTRUCTION_KINDS),
        ),
    ] = None,
    party: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=96,
            pattern=r"^[A-Za-z0-9_.:-]+$",
            description="only those paying this party: merchant:M1, buyer:B1, carrier:SF…",
        ),
    ] = None,
    after: IdCursor = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Every instruction to pay out; `state=overdue` lists those without an outcome after
    `instructions.overdue_after_hours`."""
    return _list(request, caller, kind=kind, state=state, party=party, after=after, limit=limit)


@router.get(
    "/instructions/{instruction_id}",
    tags=["money out"],
    **answers(Instruction),
    **allow(Role.MARKETPLACE),
)
def get_instruction(
    instruction_id: InstructionId, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """One instruction to pay out (payout, refund, compensation…) and its outcome."""
    with runtime(request).reading(caller) as ctx:
        return money_views.instruction_view(instructions.visible_instruction(ctx, instruction_id))


@router.post(
    "/instructions/{instruction_id}/execution",
    tags=["money out"],
    **answers(Instruction),
    **allow(Role.MARKETPLACE),
)
def execute_instruction(
    instruction_id: InstructionId, body: ExecutionIn, request: Request, caller: CallerDep
) -> JSONResponse:
    """Report any instruction `executed` or `failed` (with a reason)."""
    key = idempotency_key(request)
    kind = "instruction-execution"
    answer = apply_fact(runtime(request), caller, kind, instruction_id, body, key)
    return answer.response()


@router.post(
    "/instructions/{instruction_id}/retry",
    status_code=201,
    tags=["money out"],
    **answers(Instruction, 201),
    **allow(Role.MARKETPLACE),
)
def retry_instruction(
    instruction_id: InstructionId, request: Request, caller: CallerDep
) -> JSONResponse:
    """Instruct again what a failed refund, compensation or subsidy did not pay (once)."""

    def handle(ctx: Context) -> tuple[int, Any]:
        return 201, money_views.instruction_view(instructions.retry(ctx, instruction_id))

    return run_command(request, caller, None, handle)
