"""The chart of accounts: one account per party and purpose.

Flags follow TigerBeetle: an account marked `debits_must_not_exceed_credits`
can never be overdrawn (escrow, a merchant's payable), one marked
`credits_must_not_exceed_debits` never goes into credit (an expense, a
receivable). The payment-rail clearing account has no floor: it is the
outside world, where buyers' money comes from and goes back to.

No account is written by every command. Escrow is per merchant; the
platform-wide accounts (rail clearing, fee revenue, subsidy expense, the
refundable control) are split into `SPLIT_PARTS` parts, `{base}:{k:02d}`, the
part chosen by a stable hash of the order or sub-order a posting is about, so a
reversal always lands on the part its original touched and two commands on
different orders rarely meet on one row. Reading such an account means summing
its parts (`split_part_ids`).
"""

from __future__ import annotations

import zlib
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


# Fixed for the life of a database: the part of a posting is derived from its
# subject, so changing this would send reversals to other parts than their
# originals (it would need a migration that moves the balances).
SPLIT_PARTS = 16

SPLIT_ACCOUNTS = (
    "rail:clearing",
    "platform:fee_revenue",
    "platform:subsidy_expense",
    "platform:refundable_issued",
    "platform:recoveries",
)


def part_of(subject_id: str) -> int:
    """The part of a split account that postings about `subject_id` use (stable across runs)."""
    return zlib.crc32(subject_id.encode("utf-8")) % SPLIT_PARTS


def split_part_ids(base_id: str) -> list[str]:
    """Every part of a split account (`rail:clearing` → `rail:clearing:00` … `:15`)."""
    return [f"{base_id}:{part:02d}" for part in range(SPLIT_PARTS)]


def _part(spec: AccountSpec, subject_id: str) -> AccountSpec:
    return AccountSpec(
        f"{spec.id}:{part_of(subject_id):02d}",
        spec.party,
        spec.purpose,
        spec.debits_must_not_exceed_credits,
        spec.credits_must_not_exceed_debits,
    )


def rail_clearing(order_id: str) -> AccountSpec:
    """Buyers' money arrives from and is refunded to the marketplace's rails here
    (the part of the order: its payment and every refund of it meet on one row)."""
    return _part(AccountSpec("rail:clearing", "rail", "clearing"), order_id)


def merchant_escrow(merchant_id: str) -> AccountSpec:
    """Buyers' money for the merchant's orders, held until receipt is confirmed."""
    return _credit_normal(f"merchant:{merchant_id}", "escrow")


def platform_fee_revenue(sub_order_id: str) -> AccountSpec:
    return _part(_credit_normal("platform", "fee_revenue"), sub_order_id)


def platform_subsidy_expense(subject_id: str) -> AccountSpec:
    return _part(_debit_normal("platform", "subsidy_expense"), subject_id)


def sub_order_refundable(sub_order_id: str) -> AccountSpec:
    """What may still be refunded on a sub-order whose money was released (a memo
    account: it can never be overdrawn, so no refund after release exceeds it)."""
    return _credit_normal(f"sub_order:{sub_order_id}", "refundable")


def refundable_issued(sub_order_id: str) -> AccountSpec:
    """The control side of every `sub_order:{S}:refundable` (memo accounts balance)."""
    return _part(_debit_normal("platform", "refundable_issued"), sub_order_id)


def platform_recoveries(sub_order_id: str) -> AccountSpec:
    """What the platform took back from merchants by clawback (a false shipment, a cost
    the merchant bears)."""
    return _part(_credit_normal("platform", "recoveries"), sub_order_id)


# Money out. Every party the platform pays has three places for its money: owed
# (`payable`: credit balance; `debits_pending` is what has been instructed and
# awaits its outcome), and paid (`paid_out`: the rails as seen from that party,
# whose posted credits are everything ever paid to it). An instruction is a hold
# from payable to paid_out: executed posts it, failed voids it, back to payable.
PARTY_KINDS = ("merchant", "buyer", "carrier")


def party_payable(party: str) -> AccountSpec:
    """What the platform owes `party` (`merchant:M`, `buyer:B`, `carrier:C`), not yet paid."""
    return _credit_normal(party, "payable")


def party_paid_out(party: str) -> AccountSpec:
    """Everything paid to `party` on the rails (posted credits), and what is on its way."""
    return _credit_normal(party, "paid_out")


def merchant_payable(merchant_id: str) -> AccountSpec:
    return party_payable(f"merchant:{merchant_id}")


def merchant_reserve(merchant_id: str) -> AccountSpec:
    """Part of what the platform owes a merchant, kept back at payout against after-sales."""
    return _credit_normal(f"merchant:{merchant_id}", "reserve")


def merchant_debt(merchant_id: str) -> AccountSpec:
    """What a merchant owes after a clawback larger than its payable (never negative)."""
    return _debit_normal(f"merchant:{merchant_id}", "debt")


def buyer_payable(buyer_id: str) -> AccountSpec:
    """Refunds and compensation owed to a buyer, until instructed and paid."""
    return party_payable(f"buyer:{buyer_id}")


def carrier_payable(carrier_id: str) -> AccountSpec:
    """Subsidies owed to a carrier (return pickups the platform pays for)."""
    return party_payable(f"carrier:{carrier_id}")


def buyer_credit_receivable(buyer_id: str) -> AccountSpec:
    """What a buyer owes for goods bought on credit."""
    return _debit_normal(f"buyer:{buyer_id}", "credit_receivable")
