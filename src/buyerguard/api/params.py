"""Path and query parameters the route modules share, with their declared limits."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query

from buyerguard.api.runtime import current_actor
from buyerguard.api.schemas import ACCOUNT_ID_PATTERN, ID_MAX_LENGTH, ID_PATTERN
from buyerguard.services.context import Actor
from buyerguard.services.feed import CURSOR_MAX_LENGTH

CallerDep = Annotated[Actor, Depends(current_actor)]
Limit = Annotated[int, Query(ge=1, le=500, description="most items on this page")]
EventCursor = Annotated[
    str | None,
    Query(
        max_length=CURSOR_MAX_LENGTH,
        description="`next_cursor` of the previous page: an opaque string, passed back as is",
    ),
]


def id_path(description: str) -> Any:
    return Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN, description=description)


OrderId = Annotated[str, id_path("order id")]
MerchantId = Annotated[str, id_path("merchant id")]
BuyerId = Annotated[str, id_path("buyer id")]
ProductId = Annotated[str, id_path("product id")]
AccountId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=ACCOUNT_ID_PATTERN,
        description="ledger account, e.g. merchant:M1:payable",
    ),
]
IdCursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=ID_MAX_LENGTH,
        pattern=ID_PATTERN,
        description="`next_cursor` of the previous page",
    ),
]


AccountCursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=128,
        pattern=ACCOUNT_ID_PATTERN,
        description="`next_cursor` of the previous page: an account id",
    ),
]


def page(items: list[dict[str, Any]], limit: int, cursor_key: str = "id") -> dict[str, Any]:
    """A page of at most `limit` items from a query asked for `limit + 1`: the extra one only
    says there is more (`has_more`, and `next_cursor` to fetch it; None on the last page)."""
    has_more = len(items) > limit
    shown = items[:limit]
    next_cursor = str(shown[-1][cursor_key]) if has_more else None
    return {"items": shown, "next_cursor": next_cursor, "has_more": has_more}


VersionCursor = Annotated[
    int | None,
    Query(ge=0, le=2**31 - 1, description="`next_cursor` of the previous page: a version"),
]
