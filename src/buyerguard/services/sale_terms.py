"""The terms a payment snapshots, read from the change history as of its `occurred_at`.

A payment reported late (dated yesterday) sees the merchant and products as
they were yesterday: a change that took effect before it is seen, one that
took effect after is not, whenever either arrived. Once taken, a snapshot is
never rewritten (later edits, even backdated ones, leave it alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from buyerguard.domain.catalog import Tier, TierKind
from buyerguard.domain.orders import Order, SubOrder
from buyerguard.domain.sale_terms import sale_terms
from buyerguard.rulebook import Rulebook
from buyerguard.services.context import Context
from buyerguard.store import catalogue
from buyerguard.store.catalogue import MERCHANT, PRODUCT, Version, product_from_terms


@dataclass(frozen=True)
class TermsAtPayment:
    merchant_services: tuple[str, ...]
    by_sub_order: dict[str, dict[str, object]]


def _sold_tier(history: list[Version], sub: SubOrder, when: datetime) -> Tier:
    """The line's tier as listed at `when`; if that version did not list it (removed, or
    added later), the nearest version that did: the latest before, else the first after."""
    before = [v for v in history if v.occurred_at <= when]
    after = [v for v in history if v.occurred_at > when]
    for version in [*reversed(before), *after]:
        tier = product_from_terms(sub.product_id, version.terms).tier(sub.tier)
        if tier is not None:
            return tier
    # Unreachable for orders placed through the service (the tier was listed then).
    return Tier(TierKind(sub.tier), sub.unit_price_fen, 1, False)


def terms_at_payment(
    ctx: Context, order: Order, when: datetime, rulebook: Rulebook
) -> TermsAtPayment:
    """The merchant's services and each sub-order's snapshot as of the payment instant."""
    histories = catalogue.histories(
        ctx.connection,
        [(MERCHANT, order.merchant_id), *((PRODUCT, sub.product_id) for sub in order.sub_orders)],
    )
    merchant = catalogue.version_as_of(histories[(MERCHANT, order.merchant_id)], when)
    services = tuple(sorted(str(service) for service in merchant.terms["services"]))
    snapshots: dict[str, dict[str, object]] = {}
    for sub in order.sub_orders:
        history = histories[(PRODUCT, sub.product_id)]
        version = catalogue.version_as_of(history, when)
        snapshots[sub.id] = sale_terms(
            product=product_from_terms(sub.product_id, version.terms),
            product_version=version.version,
            tier=_sold_tier(history, sub, when),
            merchant_services=services,
            merchant_version=merchant.version,
            rulebook=rulebook,
            as_of=when,
        )
    return TermsAtPayment(services, snapshots)
