"""The chart of accounts: one account per party and purpose.

Flags follow TigerBeetle: an account marked `debits_must_not_exceed_credits`
can never be overdrawn (escrow, a merchant's payable), one marked
`credits_must_not_exceed_debits` never goes into credit (an expense, a
receivable). The payment-rail clearing account has no floor: it is the
outside world, where buyers' money comes from and goes back to.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AccountSpec:
    id: str
    party: str
    purpose: str
    debits_must_not_exceed_credits: bool = False
    credits_must_not_exceed_debits: bool = False


def _credit_normal(party: str, purpose: str) -> AccountSpec:
    return AccountSpec(f"{party}:{purpose}", party, purpose, debits_must_not_exceed_credits=True)


def _debit_normal(party: str, purpose: str) -> AccountSpec:
    return AccountSpec(f"{party}:{purpose}", party, purpose, credits_must_not_exceed_debits=True)


def rail_clearing() -> AccountSpec:
    """Buyers' money arrives from and is refunded to the marketplace's rails here."""
    return AccountSpec("rail:clearing", "rail", "clearing")


def platform_escrow() -> AccountSpec:
    return _credit_normal("platform", "escrow")


def platform_fee_revenue() -> AccountSpec:
    return _credit_normal("platform", "fee_revenue")


def platform_subsidy_expense() -> AccountSpec:
    return _debit_normal("platform", "subsidy_expense")


def merchant_payable(merchant_id: str) -> AccountSpec:
    return _credit_normal(f"merchant:{merchant_id}", "payable")


def merchant_debt(merchant_id: str) -> AccountSpec:
    """What a merchant owes after a clawback larger than its payable."""
    return _debit_normal(f"merchant:{merchant_id}", "debt")


def carrier_payable(carrier_id: str) -> AccountSpec:
    return _credit_normal(f"carrier:{carrier_id}", "payable")


def buyer_credit_receivable(buyer_id: str) -> AccountSpec:
    """What a buyer owes for goods bought on credit."""
    return _debit_normal(f"buyer:{buyer_id}", "credit_receivable")


def buyer_compensation(buyer_id: str) -> AccountSpec:
    """Compensation owed to a buyer, until paid out on the rails."""
    return _credit_normal(f"buyer:{buyer_id}", "compensation")
