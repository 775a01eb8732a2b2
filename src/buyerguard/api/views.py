"""JSON shapes of what the API returns: amounts as strings, instants in UTC."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from buyerguard.clock import format_instant
from buyerguard.domain.catalog import Product
from buyerguard.domain.orders import Order
from buyerguard.domain.parties import Buyer, Merchant
from buyerguard.ledger.balances import Balance
from buyerguard.money import format_fen
from buyerguard.store.catalogue import tier_row


def instant(value: datetime | None) -> str | None:
    return format_instant(value) if value is not None else None


def merchant_view(merchant: Merchant, version: int) -> dict[str, Any]:
    return {
        "id": merchant.id,
        "version": version,
        "name": merchant.name,
        "tier": merchant.tier.value,
        "industry": merchant.industry,
        "origin_region": merchant.origin_region,
        "services": sorted(service.value for service in merchant.services),
    }


def buyer_view(buyer: Buyer) -> dict[str, Any]:
    return {
        "id": buyer.id,
        "name": buyer.name,
        "super_buyer_marked": buyer.super_buyer_marked,
        "addresses": [
            {
                "province_code": address.province_code,
                "city_code": address.city_code,
                "district_code": address.district_code,
                "detail": address.detail,
            }
            for address in buyer.addresses
        ],
    }


def tier_view(tier: Mapping[str, Any]) -> dict[str, Any]:
    """A tier, from the domain or a stored snapshot (money in fen there)."""
    return {
        "kind": tier["kind"],
        "price": format_fen(tier["price_fen"]),
        "moq": tier["moq"],
        "seven_day_returns": tier["seven_day_returns"],
    }


def product_view(product: Product, version: int) -> dict[str, Any]:
    """The product with its tiers; `unit_price`, `tier`, `moq` and `seven_day_returns_opt_in`
    repeat the default tier (spot, else the only one; null if neither) for older clients."""
    default = product.default_tier
    return {
        "id": product.id,
        "version": version,
        "merchant_id": product.merchant_id,
        "title": product.title,
        "tiers": [tier_view(tier_row(tier)) for tier in product.tiers],
        "weight_grams": product.weight_grams,
        "ship_from_region": product.ship_from_region,
        "return_class": product.return_class,
        "shipping_commitment_hours": product.shipping_commitment_hours,
        "one_piece_forms": sorted(form.value for form in product.one_piece_forms),
        "entrusted": product.entrusted,
        "unit_price": format_fen(default.price_fen) if default else None,
        "tier": default.kind.value if default else None,
        "moq": default.moq if default else None,
        "seven_day_returns_opt_in": default.seven_day_returns if default else None,
    }


def terms_view(terms: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A sub-order's snapshot at payment, amounts as strings."""
    if terms is None:
        return None
    return {**terms, "tier": tier_view(terms["tier"])}


def change_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """One version of a merchant or product: who, when, what changed, the whole terms after."""
    terms = dict(row["terms"])
    changes = {key: dict(change) for key, change in row["changes"].items()}
    if "tiers" in terms:
        terms["tiers"] = [tier_view(tier) for tier in terms["tiers"]]
    if "tiers" in changes:
        changes["tiers"] = {
            end: [tier_view(tier) for tier in tiers] for end, tiers in changes["tiers"].items()
        }
    return {
        "version": row["version"],
        "occurred_at": instant(row["occurred_at"]),
        "recorded_at": instant(row["recorded_at"]),
        "actor": row["actor"],
        "changes": changes,
        "terms": terms,
        "rulebook_id": row["rulebook_id"],
        "rule_ids": row["rule_ids"],
    }


def order_view(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "state": order.state.value,
        "buyer_id": order.buyer_id,
        "merchant_id": order.merchant_id,
        "destination_region": order.destination_region,
        "goods": format_fen(order.goods_fen),
        "shipping": format_fen(order.shipping_fen),
        "total": format_fen(order.total_fen),
        "placed_at": instant(order.placed_at),
        "paid_at": instant(order.paid_at),
        "paid_rulebook_id": order.paid_rulebook_id,
        "shipped_at": instant(order.shipped_at),
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "official_logistics": order.official_logistics,
        "signed_at": instant(order.signed_at),
        "confirmed_at": instant(order.confirmed_at),
        "confirmed_by": order.confirmed_by.value if order.confirmed_by else None,
        "completed_at": instant(order.completed_at),
        "cancelled_at": instant(order.cancelled_at),
        "refunded_at": instant(order.refunded_at),
        "sub_orders": [
            {
                "id": sub.id,
                "line_no": sub.line_no,
                "product_id": sub.product_id,
                "quantity": sub.quantity,
                "unit_price": format_fen(sub.unit_price_fen),
                "goods": format_fen(sub.goods_fen),
                "refunded": format_fen(sub.refunded_fen),
                "refunded_before_shipment": sub.refunded_before_shipment,
                "entrusted": sub.entrusted,
                "fee": format_fen(sub.fee_fen) if sub.fee_fen is not None else None,
                "tier": sub.tier,
                "terms_at_payment": terms_view(sub.terms_at_payment),
            }
            for sub in order.sub_orders
        ],
    }


def balance_view(balance: Balance) -> dict[str, Any]:
    return {
        "account_id": balance.account_id,
        "balance": format_fen(balance.credit_balance_fen),
        "debits_posted": format_fen(balance.debits_posted_fen),
        "credits_posted": format_fen(balance.credits_posted_fen),
        "debits_pending": format_fen(balance.debits_pending_fen),
        "credits_pending": format_fen(balance.credits_pending_fen),
    }


def timer_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "subject_id": row["subject_id"],
        "state": row["status"],
        "due_at": instant(row["due_at"]),
        "available_at": instant(row["available_at"]),
        "attempts": row["attempts"],
        "last_error": row["last_error"],
        "payload": row["payload"],
        "fired_at": instant(row["fired_at"]),
        "outcome": row["outcome"],
    }
