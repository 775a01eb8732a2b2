"""A small demo marketplace, loaded idempotently, with a token per role.

Tokens are shown once when created, so the demo keeps them in a local file
outside git (`var/demo-tokens.json`) and prints them on every load.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buyerguard.bootstrap import Runtime
from buyerguard.domain.catalog import OnePieceForm, Product, Tier, TierKind
from buyerguard.domain.parties import Address, Buyer, Merchant, MerchantService, MerchantTier
from buyerguard.errors import InvalidInput, NotFound, Unauthorized
from buyerguard.services import catalog
from buyerguard.services.context import OPERATOR, Context, Role
from buyerguard.services.tokens import authenticate, create_token
from buyerguard.settings import settings
from buyerguard.store import repositories


def demo_tokens_file() -> Path:
    """Where demo tokens are kept: `$BUYERGUARD_DEMO_TOKENS`, else var/demo-tokens.json."""
    return settings().demo_tokens


def demo_token(role: str) -> str:
    """The saved demo token of a role."""
    path = demo_tokens_file()
    saved = json.loads(path.read_text()) if path.exists() else {}
    if role not in saved:
        raise InvalidInput(
            "demo_token_missing", f"no demo token for {role!r} in {path}: run `demo load`", "role"
        )
    return str(saved[role])


MERCHANTS = (
    Merchant(
        "M-yiwu",
        "Yiwu Daily Goods Factory",
        MerchantTier.SUPER_FACTORY,
        "daily_goods",
        "330782",
        frozenset({MerchantService.BUYER_PROTECTION, MerchantService.SEVEN_DAY_RETURNS}),
    ),
    Merchant(
        "M-shenzhen",
        "Shenzhen Cable Co.",
        MerchantTier.STANDARD,
        "electronics",
        "440306",
        frozenset({MerchantService.BUYER_PROTECTION}),
    ),
)
BUYERS = (
    Buyer(
        "B-shop", "Nanshan corner shop", False, (Address("440000", "440300", "440305", "科技园"),)
    ),
    Buyer(
        "B-chain", "Hangzhou retail chain", True, (Address("330000", "330100", "330106", "西湖"),)
    ),
)
PRODUCTS = (
    Product(
        "P-cups",
        "M-yiwu",
        "Ceramic cups, 12-pack",
        (
            Tier(TierKind.SPOT, 3600, 1, seven_day_returns=True),
            Tier(TierKind.CUSTOM, 4800, 50),  # printed with the buyer's logo
        ),
        2400,
        "330782",
        shipping_commitment_hours=48,
        one_piece_forms=frozenset({OnePieceForm.ONE_PIECE_WHOLESALE}),
    ),
    Product(
        "P-towels",
        "M-yiwu",
        "Cotton towels, 50 pieces",
        (Tier(TierKind.SPOT, 250000, 2, seven_day_returns=True),),
        6000,
        "330782",
    ),
    Product(
        "P-cables",
        "M-shenzhen",
        "USB-C cables, 100 pieces",
        (Tier(TierKind.SPOT, 75000, 1, seven_day_returns=True),),
        1500,
        "440306",
    ),
)
ROLES: tuple[tuple[str, Role, str | None], ...] = (
    ("operator", Role.OPERATOR, None),
    ("marketplace", Role.MARKETPLACE, None),
    ("merchant", Role.MERCHANT, "M-yiwu"),
    ("buyer", Role.BUYER, "B-shop"),
)


def ensure_demo_catalog(ctx: Context) -> list[str]:
    """Create whichever demo merchants, buyers and products are missing."""
    steps: list[tuple[str, Sequence[Any], Callable[..., Any], Callable[..., Any]]] = [
        ("merchant", MERCHANTS, repositories.get_merchant, catalog.create_merchant),
        ("buyer", BUYERS, repositories.get_buyer, catalog.create_buyer),
        ("product", PRODUCTS, repositories.get_product, catalog.create_product),
    ]
    created: list[str] = []
    for kind, items, find, create in steps:
        for item in items:
            try:
                find(ctx.connection, item.id)
            except NotFound:
                create(ctx, item)
                created.append(f"{kind} {item.id}")
    return created


@dataclass(frozen=True)
class DemoLoad:
    created: list[str]
    tokens: dict[str, str]
    tokens_file: Path


def load_demo(rt: Runtime, tokens_file: Path | None = None) -> DemoLoad:
    """Create whatever of the demo is missing and make sure each role has a live token."""
    tokens_file = tokens_file or demo_tokens_file()
    with rt.writing(OPERATOR) as ctx:
        created = ensure_demo_catalog(ctx)
        saved: dict[str, str] = json.loads(tokens_file.read_text()) if tokens_file.exists() else {}
        tokens: dict[str, str] = {}
        for name, role, party_id in ROLES:
            secret = saved.get(name)
            if secret:
                try:
                    authenticate(ctx.connection, secret, ctx.now())
                    tokens[name] = secret
                    continue
                except Unauthorized:
                    pass
            issued = create_token(ctx, role, party_id, label=f"demo {name}")
            tokens[name] = issued.secret
            created.append(f"token {name}")
    tokens_file.parent.mkdir(parents=True, exist_ok=True)
    tokens_file.write_text(json.dumps(tokens, indent=2) + "\n")
    tokens_file.chmod(0o600)
    return DemoLoad(created, tokens, tokens_file)
