"""What the money-out routes answer (money_views.py builds them): instructions, payout
runs, merchant balances and statements, adjustments, payout settings."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from buyerguard.api.answers import Answer, Instant, Order, Yuan, page_of


class Instruction(Answer):
    """An instruction to pay out (payout, refund, compensation…) and its outcome."""

    id: str = Field(description="the instruction's id")
    kind: str = Field(description="payout, refund, compensation, subsidy…")
    party: str = Field(description="who is paid: merchant:M1, buyer:B1, carrier:SF…")
    amount: Yuan
    state: str = Field(description="instructed, executed or failed")
    order_id: str | None = Field(description="the order it pays for, when there is one")
    run_id: str | None = Field(description="the payout run that made it")
    retry_of: str | None = Field(description="the failed instruction it instructs again")
    decision_id: str | None = Field(description="the decision that made it")
    instructed_at: Instant
    overdue_after: Instant | None = Field(description="overdue with no outcome after this")
    reported_at: Instant | None = Field(description="when its outcome was reported")
    outcome_at: Instant | None = Field(description="when it executed or failed, as reported")
    reported_by: str | None = Field(description="who reported the outcome")
    failure_reason: str | None = Field(description="why it failed, as reported")
    reference: str | None = Field(description="the marketplace's reference (bank, channel)")
    cut_over: bool = Field(description="made by the cut-over from before instructions")
    details: dict[str, Any] | None = Field(description="what else it carries, by kind")


class PayoutResult(Answer):
    merchant_id: str = Field(description="the merchant paid")
    payout_id: str | None = Field(description="the payout instruction, when one was made")
    amount: Yuan
    reserve_moved: Yuan
    debt_netted: Yuan


class PayoutRun(Answer):
    """A payout run: per merchant, debt netted, reserve set, the rest instructed."""

    id: str = Field(description="the run's id")
    trigger: str = Field(description="schedule or operator")
    as_of: Instant
    actor: str = Field(description="who ran it")
    started_at: Instant
    finished_at: Instant | None = Field(description="when it finished")
    merchants_considered: int = Field(description="merchants looked at")
    payouts: int = Field(description="payout instructions made")
    total: Yuan
    results: list[PayoutResult] = Field(description="per merchant")


class MerchantBalance(Answer):
    """A merchant's money, from the ledger."""

    merchant_id: str = Field(description="the merchant")
    in_escrow: Yuan
    payable: Yuan
    reserved: Yuan
    in_flight: Yuan
    paid_out: Yuan
    debt: Yuan
    net_owed: Yuan


class Statement(Answer):
    """A merchant's month (Shanghai): opening balance, what moved, closing balance."""

    merchant_id: str = Field(description="the merchant")
    month: str = Field(description="YYYY-MM")
    from_: Instant = Field(alias="from", description="the month's first instant")
    until: Instant = Field(description="the month's end (exclusive)")
    complete: bool = Field(description="false while the month is still running")
    opening_balance: Yuan
    lines: dict[str, str] = Field(description="line → yuan amount moved in the month")
    closing_balance: Yuan
    in_flight_at_close: Yuan
    debt_at_close: Yuan


class TakenFromMerchant(Answer):
    payable: Yuan
    reserve: Yuan
    debt: Yuan


class Adjustment(Answer):
    """An operator's adjustment of an order: who bears it and where the money came from."""

    id: str = Field(description="the adjustment's id")
    kind: str = Field(description="what kind of adjustment")
    order_id: str = Field(description="the order adjusted")
    sub_order_id: str | None = Field(description="the sub-order, when one")
    amount: Yuan
    borne_by: str | None = Field(
        description="a compensation's: merchant or platform; null for a refund or a clawback"
    )
    reason: str = Field(description="the operator's reason")
    operator: str = Field(description="who made it")
    instruction_id: str | None = Field(description="the instruction that pays it")
    taken_from_merchant: TakenFromMerchant | None = Field(
        description="where a merchant-borne amount came from"
    )
    occurred_at: Instant
    order: Order = Field(description="the order after it")


class PayoutSettings(Answer):
    """A merchant's payout reserve share now, and where it comes from."""

    merchant_id: str = Field(description="the merchant")
    reserve_share: str = Field(description="share of payable held back, as a decimal")
    source: str = Field(
        description="the setting it comes from: merchant_payout_settings.reserve_share (the "
        "merchant's own) or payouts.reserve_share (the rulebook's default)"
    )


InstructionPage = page_of(Instruction, "InstructionPage")
