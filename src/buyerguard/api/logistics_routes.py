"""The logistics endpoints under /v1: the delivery promise (预计达) and the arrival badge
(亮标), and the disruptions and slowdowns an operator declares, which move promises at their
next lookup in every API worker (services/disruptions.py, services/slowdowns.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field, StrictInt

from buyerguard.api.access import ANY_CALLER, GuardedRoute, allow, require_own_merchant
from buyerguard.api.answers import Badge, Promise, answers
from buyerguard.api.logistics_answers import (
    DisruptionAnswer,
    DisruptionPage,
    SlowdownAnswer,
    SlowdownPage,
)
from buyerguard.api.params import CallerDep, IdCursor, Limit, MerchantId, id_path, page
from buyerguard.api.runtime import run_command, runtime
from buyerguard.api.schemas import (
    ID_MAX_LENGTH,
    ID_PATTERN,
    INSTANT_DESCRIPTION,
    REGION_CODE_MAX_LENGTH,
    REGION_CODE_PATTERN,
    REGION_SHAPE,
    TEXT_PATTERN,
    Body,
    text_field,
)
from buyerguard.api.views import instant
from buyerguard.clock import INSTANT_RANGE_TEXT, parse_instant, parse_local_date
from buyerguard.services import badges, disruptions, promises, slowdowns
from buyerguard.services.context import Context, Role

router = APIRouter(prefix="/v1", route_class=GuardedRoute)  # app.py includes it (routes.ROUTERS)
DisruptionId = Annotated[str, id_path("disruption id")]
SlowdownId = Annotated[str, id_path("slowdown id")]
Region = Annotated[
    str,
    Field(
        min_length=1,
        max_length=REGION_CODE_MAX_LENGTH,
        pattern=REGION_CODE_PATTERN,
        description="GB/T 2260 code: province (440000), city (440300) or district (440305)",
    ),
    REGION_SHAPE,
]
InstantText = Annotated[str, Field(min_length=1, max_length=64, pattern=TEXT_PATTERN)]


class DisruptionIn(Body):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    carrier: Annotated[str, text_field(64, min_length=1)] = Field(
        description="the carrier, as the shipment history names it", examples=["SF"]
    )
    regions: list[Region] = Field(
        min_length=1,
        max_length=disruptions.MAX_REGIONS,
        description="where parcels from or to are slowed",
        examples=[["440000", "330782"]],
    )
    from_: InstantText = Field(
        alias="from",
        description=f"when it begins ({INSTANT_DESCRIPTION})",
        examples=["2024-10-21T00:00:00+08:00"],
    )
    until: InstantText = Field(
        description=f"when it ends, exclusive, after `from` ({INSTANT_DESCRIPTION})",
        examples=["2024-10-28T00:00:00+08:00"],
    )
    expected_extra_days: StrictInt = Field(
        ge=0, le=disruptions.MAX_EXTRA_DAYS, description="days to add to the promises it covers"
    )
    reason: Annotated[str, text_field(500, min_length=1)] = Field(
        description="why, for operators and merchants", examples=["typhoon: hub closed"]
    )


def disruption_view(row: dict[str, Any]) -> dict[str, Any]:
    ended_at = row["ended_at"]
    return {
        "id": row["id"],
        "carrier": row["carrier"],
        "regions": list(row["regions"]),
        "from": instant(row["starts_at"]),
        "until": instant(row["until"]),
        "expected_extra_days": row["expected_extra_days"],
        "reason": row["reason"],
        "active_until": instant(row["until"] if ended_at is None else min(row["until"], ended_at)),
        "declared_at": instant(row["declared_at"]),
        "declared_by": row["declared_by"],
        "ended_at": instant(ended_at),
        "ended_by": row["ended_by"],
    }


@router.post(
    "/logistics/disruptions",
    status_code=201,
    tags=["logistics"],
    **answers(DisruptionAnswer, 201),
    **allow(),
)
def declare_disruption(body: DisruptionIn, request: Request, caller: CallerDep) -> JSONResponse:
    """Declare a carrier's disruption: promises of that carrier from or to those regions, over
    that period, are pushed by `expected_extra_days` and show no label, from the next lookup
    in every API worker. A lookup that names no carrier is pushed by any carrier's."""
    command = disruptions.NewDisruption(
        carrier=body.carrier,
        regions=tuple(body.regions),
        starts_at=parse_instant(body.from_, field="from", allow_date=False),
        until=parse_instant(body.until, field="until", allow_date=False),
        expected_extra_days=body.expected_extra_days,
        reason=body.reason,
    )

    def handle(ctx: Context) -> tuple[int, Any]:
        return 201, disruption_view(disruptions.declare(ctx, command))

    return run_command(request, caller, body, handle)


@router.get(
    "/logistics/disruptions",
    tags=["logistics"],
    **answers(DisruptionPage),
    **allow(Role.MARKETPLACE, Role.MERCHANT),
)
def list_disruptions(
    request: Request, caller: CallerDep, after: IdCursor = None, limit: Limit = 50
) -> dict[str, Any]:
    """Declared disruptions, ended ones too, in the order they were declared."""
    with runtime(request).reading(caller) as ctx:
        rows = disruptions.list_disruptions(ctx, after, limit + 1)
    return page([disruption_view(row) for row in rows], limit)


@router.post(
    "/logistics/disruptions/{disruption_id}/end",
    tags=["logistics"],
    **answers(DisruptionAnswer),
    **allow(),
)
def end_disruption(
    disruption_id: DisruptionId, request: Request, caller: CallerDep
) -> JSONResponse:
    """End a disruption now (one not yet begun is withdrawn whole): promises stop waiting
    for it from the next lookup. Ending one already over is a conflict (409)."""

    def handle(ctx: Context) -> tuple[int, Any]:
        return 200, disruption_view(disruptions.end(ctx, disruption_id))

    return run_command(request, caller, None, handle)


# ------------------------------------------------------------------ slowdowns
DayText = Annotated[
    str,
    Field(min_length=10, max_length=10, pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2027-11-11"]),
]


class SlowdownIn(Body):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, text_field(96, min_length=1)] = Field(
        description="what operators and buyers see it called", examples=["Double 11 peak"]
    )
    first_day: DayText = Field(description="its first Shanghai day (YYYY-MM-DD)")
    last_day: DayText = Field(
        description=f"its last Shanghai day, inclusive, at most {slowdowns.MAX_SLOWDOWN_DAYS}"
        " days after first_day (YYYY-MM-DD)"
    )
    reason: Annotated[str, text_field(500, min_length=1)] = Field(
        description="why, for operators and merchants", examples=["parcel volumes triple"]
    )


def slowdown_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "first_day": row["first_day"].isoformat(),
        "last_day": row["last_day"].isoformat(),
        "reason": row["reason"],
        "source": row["source"],
        "declared_at": instant(row["declared_at"]),
        "declared_by": row["declared_by"],
        "withdrawn_at": instant(row["withdrawn_at"]),
        "withdrawn_by": row["withdrawn_by"],
    }


@router.post(
    "/logistics/slowdowns",
    status_code=201,
    tags=["logistics"],
    **answers(SlowdownAnswer, 201),
    **allow(),
)
def declare_slowdown(body: SlowdownIn, request: Request, caller: CallerDep) -> JSONResponse:
    """Declare days on which every carrier slows (a Double 11 peak): promises whose span
    touches them step over them as over a public holiday and show no label, from the next
    lookup in every API worker; the next build learns around them. The Spring Festival's
    slowdown is seeded every year from the rulebook."""
    command = slowdowns.NewSlowdown(
        name=body.name,
        first_day=parse_local_date(body.first_day, field="first_day"),
        last_day=parse_local_date(body.last_day, field="last_day"),
        reason=body.reason,
    )

    def handle(ctx: Context) -> tuple[int, Any]:
        return 201, slowdown_view(slowdowns.declare(ctx, command))

    return run_command(request, caller, body, handle)


@router.get(
    "/logistics/slowdowns",
    tags=["logistics"],
    **answers(SlowdownPage),
    **allow(Role.MARKETPLACE, Role.MERCHANT),
)
def list_slowdowns(
    request: Request, caller: CallerDep, after: IdCursor = None, limit: Limit = 50
) -> dict[str, Any]:
    """Slowdowns, seeded and declared, withdrawn ones too, in id order."""
    with runtime(request).reading(caller) as ctx:
        rows = slowdowns.list_slowdowns(ctx, after, limit + 1)
    return page([slowdown_view(row) for row in rows], limit)


@router.post(
    "/logistics/slowdowns/{slowdown_id}/withdraw",
    tags=["logistics"],
    **answers(SlowdownAnswer),
    **allow(),
)
def withdraw_slowdown(slowdown_id: SlowdownId, request: Request, caller: CallerDep) -> JSONResponse:
    """Withdraw a slowdown whole: its days count as normal again from the next lookup (a
    withdrawn seed is not seeded again). Withdrawing it twice is a conflict (409)."""

    def handle(ctx: Context) -> tuple[int, Any]:
        return 200, slowdown_view(slowdowns.withdraw(ctx, slowdown_id))

    return run_command(request, caller, None, handle)


# ------------------------------------------------------- promises and badges
@router.get("/promises", tags=["logistics"], **answers(Promise), **allow(*ANY_CALLER))
def get_promise(
    request: Request,
    caller: CallerDep,
    product_id: Annotated[
        str,
        Query(
            min_length=1,
            max_length=ID_MAX_LENGTH,
            pattern=ID_PATTERN,
            description="the product bought (its merchant, origin and handling)",
        ),
    ],
    destination: Annotated[
        str,
        Query(
            min_length=1,
            max_length=REGION_CODE_MAX_LENGTH,
            pattern=REGION_CODE_PATTERN,
            description="GB/T 2260 district code",
        ),
        REGION_SHAPE,
    ],
    paid_at: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description=f"ISO-8601 instant with offset, or a Shanghai date; {INSTANT_RANGE_TEXT}",
        ),
    ] = None,
    carrier: Annotated[
        str | None,
        Query(max_length=64, pattern=TEXT_PATTERN, description="the carrier, when known"),
    ] = None,
) -> dict[str, Any]:
    """Arrival promise (预计达) for a product shipped to a destination, paid at an instant."""
    when = parse_instant(paid_at, field="paid_at") if paid_at else None
    with runtime(request).reading(caller) as ctx:
        answer = promises.promise(ctx, product_id, destination, when, carrier)
        answer["paid_at"] = instant(answer["paid_at"])
        return answer


@router.get(
    "/merchants/{merchant_id}/badge",
    tags=["logistics"],
    **answers(Badge),
    **allow(Role.MARKETPLACE, Role.MERCHANT),
)
def get_merchant_badge(
    merchant_id: MerchantId, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """The arrival badge (亮标): held or not, its ranking effects, and its history."""
    with runtime(request).reading(caller) as ctx:
        require_own_merchant(ctx, merchant_id)
        status = badges.badge_status(ctx, merchant_id)
        status["history"] = [
            {
                "since": instant(spell["since"]),
                "until": instant(spell["until"]),
                "orders": spell["orders"],
                "signed_within": spell["signed_within"],
                "industry": spell["industry"],
                "industry_orders": spell["industry_orders"],
                "industry_signed_within": spell["industry_signed_within"],
                "rulebook_id": spell["rulebook_id"],
            }
            for spell in status["history"]
        ]
        return status
