"""What the API answers, declared for /openapi.json: one model per shape the views build.

The views (views.py, money_views.py, case_views.py, …) build plain dicts; these
models only document them (`answers()` puts a model in a route's `responses`, with
no `response_model`, so nothing is re-validated on the hot path). The suite keeps
them true: every response a test receives is checked against the schema
(tests/conftest.py) and schemathesis walks every route. `extra="forbid"` makes an
undocumented field a schema violation rather than a silent addition.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from buyerguard.services.timers import FAILED, TIMER_STATES_TEXT

Yuan = Annotated[
    str,
    Field(
        pattern=r"^-?[0-9]+\.[0-9]{2}$",
        description="an amount in yuan, two decimals, as a string (never a JSON number)",
        examples=["5380.00"],
    ),
]
Instant = Annotated[
    str,
    Field(
        description="an instant, ISO-8601 in UTC with a Z",
        examples=["2024-10-20T02:00:00Z"],
    ),
]
Cursor = Annotated[str, Field(description="pass back as `after` to read on from here")]
RuleIds = Annotated[list[str], Field(description="the rulebook keys that justify it")]
RulebookId = Annotated[str, Field(description="the rulebook in force, e.g. 2024-10-01")]
Details = Annotated[dict[str, Any], Field(description="what else was decided, by kind")]


class Answer(BaseModel):
    """Every documented answer: all fields always present, none undocumented."""

    model_config = ConfigDict(extra="forbid")


def answers(model: type[BaseModel], status: int = 200, what: str = "") -> dict[str, Any]:
    """Route keyword arguments that document `model` as the answer, without validating it."""
    description = what or (model.__doc__ or "").strip().splitlines()[0]
    return {
        "response_model": None,
        "responses": {status: {"model": model, "description": description}},
    }


def page_of(item: type[BaseModel], name: str) -> type[BaseModel]:
    """A page of `item`s: `has_more` says whether `next_cursor` fetches another."""
    return create_model(
        name,
        __base__=Answer,
        __doc__=f"A page of {item.__name__}, in cursor order.",
        items=(list[item], Field(description="this page's items")),  # type: ignore[valid-type]
        next_cursor=(
            str | None,
            Field(description="pass as `after` for the next page; null on the last"),
        ),
        has_more=(bool, Field(description="whether another page follows")),
    )


# ------------------------------------------------------------------ health
class Health(Answer):
    """The process answers (liveness) or the database is ready (readiness)."""

    status: Literal["ok", "ready"] = Field(description="ok (alive) or ready (database usable)")
    version: str = Field(description="the buyerguard release serving")


# ----------------------------------------------------------- parties, catalogue
class Merchant(Answer):
    """A merchant, at its current version."""

    id: str = Field(description="the marketplace's id of the merchant")
    version: int = Field(description="bumped by every change (see /changes)")
    name: str = Field(description="display name")
    tier: str = Field(description="membership tier, which sets fees and duties")
    industry: str = Field(description="industry, for the arrival badge's comparisons")
    origin_region: str | None = Field(description="GB/T 2260 code it ships from")
    services: list[str] = Field(description="the service promises it signed up to")


class Address(Answer):
    province_code: str = Field(description="GB/T 2260 province code")
    city_code: str = Field(description="GB/T 2260 city code")
    district_code: str = Field(description="GB/T 2260 district code")
    detail: str = Field(description="street and number")


class Buyer(Answer):
    """A buyer and its delivery addresses."""

    id: str = Field(description="the marketplace's id of the buyer")
    name: str = Field(description="display name")
    super_buyer_marked: bool = Field(description="marked a super buyer (trust-based refunds)")
    addresses: list[Address] = Field(description="delivery addresses, by index")


class Tier(Answer):
    """A price tier of a product."""

    kind: str = Field(description="spot (现货), custom or wholesale")
    price: Yuan
    moq: int = Field(description="minimum order quantity")
    seven_day_returns: bool = Field(description="7-day no-reason returns promised")


class Product(Answer):
    """A product with its tiers; the flat fields repeat the default tier for older clients."""

    id: str = Field(description="the marketplace's id of the product")
    version: int = Field(description="bumped by every change (see /changes)")
    merchant_id: str = Field(description="who sells it")
    title: str = Field(description="display title")
    tiers: list[Tier] = Field(description="price tiers, spot first")
    weight_grams: int | None = Field(description="shipping weight")
    ship_from_region: str | None = Field(description="GB/T 2260 code it ships from")
    return_class: str | None = Field(description="its returns class (mandatory, opt-in, none)")
    shipping_commitment_hours: int | None = Field(description="hours to ship it after payment")
    one_piece_forms: list[str] = Field(description="one-piece shipping forms offered")
    entrusted: bool = Field(description="sold under entrusted (托管) operation")
    unit_price: Yuan | None = Field(description="the default tier's price")
    tier: str | None = Field(description="the default tier's kind")
    moq: int | None = Field(description="the default tier's minimum order quantity")
    seven_day_returns_opt_in: bool | None = Field(description="the default tier's returns")


class Change(Answer):
    """One version of a merchant or product: who, when, what changed, the terms after it."""

    version: int = Field(description="the version this change made")
    occurred_at: Instant | None = Field(description="when it happened, as reported")
    recorded_at: Instant | None = Field(description="when buyerguard recorded it")
    actor: str = Field(description="who changed it (role:party)")
    changes: dict[str, Any] = Field(description="field → {before, after}")
    terms: dict[str, Any] = Field(description="every term after the change")
    rulebook_id: str | None = Field(
        description="the rulebook whose listing rules accepted a product's version; null for "
        "a merchant's"
    )
    rule_ids: RuleIds


# ------------------------------------------------------------------- orders
class SubOrder(Answer):
    """A line of the order: one product, paid, refunded and settled on its own."""

    id: str = Field(description="order id and line number, e.g. O-1-1")
    line_no: int = Field(description="from 1, in the order's line order")
    product_id: str = Field(description="the product")
    quantity: int = Field(description="pieces")
    unit_price: Yuan
    goods: Yuan
    refunded: Yuan
    refunded_before_shipment: bool = Field(description="refunded whole before shipment")
    entrusted: bool = Field(description="entrusted (托管) at payment")
    fee: Yuan | None = Field(description="the platform fee charged at completion")
    tier: str | None = Field(description="the tier bought at")
    terms_at_payment: dict[str, Any] | None = Field(
        description="the product's terms as they stood at payment"
    )


class OrderStep(Answer):
    command: str = Field(description="what was done (place, payment, shipment…)")
    from_state: str | None = Field(description="state before")
    to_state: str = Field(description="state after")
    occurred_at: Instant | None = Field(description="when it happened, as reported")
    actor: str = Field(description="who did it (role:party)")


class Order(Answer):
    """An order and its sub-orders, as they stand."""

    id: str = Field(description="the marketplace's order id")
    state: str = Field(description="placed, paid, shipped, signed, confirmed, completed…")
    buyer_id: str = Field(description="who buys")
    merchant_id: str = Field(description="who sells")
    destination_region: str | None = Field(description="GB/T 2260 district it goes to")
    goods: Yuan
    shipping: Yuan
    total: Yuan
    placed_at: Instant | None = Field(description="when it was placed")
    paid_at: Instant | None = Field(description="when it was paid")
    paid_rulebook_id: str | None = Field(description="the rulebook in force at payment")
    shipped_at: Instant | None = Field(description="when it was shipped")
    carrier: str | None = Field(description="carrier code")
    tracking_number: str | None = Field(description="the carrier's tracking number")
    official_logistics: bool | None = Field(description="shipped through official logistics")
    signed_at: Instant | None = Field(description="when it was signed for")
    confirmed_at: Instant | None = Field(description="when receipt was confirmed")
    confirmed_by: str | None = Field(description="buyer, or auto (the timeout)")
    completed_at: Instant | None = Field(description="when escrow was settled")
    cancelled_at: Instant | None = Field(description="when it was cancelled")
    refunded_at: Instant | None = Field(description="when it was refunded before shipment")
    sub_orders: list[SubOrder] = Field(description="one per line")


class OrderWithHistory(Order):
    """An order with every step it went through."""

    history: list[OrderStep] = Field(description="every command, oldest first")


class Event(Answer):
    """A decision, as the feed, webhooks and decision lists show it."""

    cursor: Cursor | None
    id: str = Field(description="the decision's id; unique, stable across replays")
    kind: str = Field(description="e.g. escrow_held, fee_charged, case_opened")
    subject_id: str = Field(description="what it is about (order, case, instruction…)")
    sequence: int = Field(description="its number among its subject's decisions")
    order_id: str | None = Field(description="the order, when there is one")
    amount: Yuan
    payer: str | None = Field(description="the account that pays, when money moves")
    payee: str | None = Field(description="the account that is paid, when money moves")
    rule_ids: RuleIds
    rulebook_id: RulebookId
    explanation: str = Field(description="why, for people")
    details: Details
    occurred_at: Instant
    recorded_at: Instant


class Events(Answer):
    """Decisions in order."""

    items: list[Event] = Field(description="oldest first")


class EventPage(Answer):
    """A page of the feed; poll again from `next_cursor` (the feed has no last page)."""

    items: list[Event] = Field(description="in feed order")
    next_cursor: Cursor | None
    has_more: bool = Field(description="whether more is there now")


class FactOutcome(Answer):
    """What became of one fact of a batch."""

    index: int = Field(description="its place in the batch, from 0")
    outcome: Literal["applied", "replayed", "skipped", "refused"] = Field(
        description="skipped: an earlier fact of its order (or instruction) was refused"
    )
    status: int = Field(description="the HTTP status it would have had alone")
    order_id: str | None = Field(
        default=None,
        description="the order it is about (a case action's: its case's order), when known; "
        "a refusal skips that order's later facts",
    )
    response: dict[str, Any] | None = Field(description="its answer, as on its own route")
    error: dict[str, Any] | None = Field(description="its refusal {code, message, field}")


class FactsAnswer(Answer):
    """One result per fact, and how many had each outcome."""

    results: list[FactOutcome] = Field(description="in the batch's order")
    applied: int = Field(description="facts applied now")
    replayed: int = Field(description="facts whose key had already been applied")
    skipped: int = Field(description="facts after a refused fact of their order")
    refused: int = Field(description="facts refused")


# ------------------------------------------------------------------ ledger
class Balance(Answer):
    """An account's balance (credit minus debit, posted) and its posted and pending sums."""

    account_id: str = Field(description="e.g. merchant:M1:payable, platform:fee_revenue")
    balance: Yuan
    debits_posted: Yuan
    credits_posted: Yuan
    debits_pending: Yuan
    credits_pending: Yuan


class ListedAccount(Balance):
    """An account with whose it is and what it is for."""

    party: str = Field(description="whose account: platform, merchant:M1, buyer:B1…")
    purpose: str = Field(description="what it holds: escrow, payable, fee_revenue…")


class AccountAnswer(Balance):
    """One account; a split account named without its part adds up its parts."""

    parts: list[Balance] | None = Field(
        default=None, description="the parts of a split account, when it is one"
    )


# ----------------------------------------------------------------- logistics
class PromiseDisruption(Answer):
    """A declared disruption that lengthened a promise."""

    id: str = Field(description="the disruption (GET /v1/logistics/disruptions)")
    carrier: str = Field(description="the carrier it slows")
    expected_extra_days: int = Field(description="days added to the promise")


class PromiseRunningLate(Answer):
    """The early signal: a carrier whose recent parcels from or to one of the provinces
    signed far fewer than its earlier ones had at that age (no label then)."""

    carrier: str = Field(description="the carrier running late")
    signed_share: float = Field(description="share of its recent parcels signed so far")
    recent_parcels: int = Field(description="parcels in that recent cohort")


class Promise(Answer):
    """An arrival promise (预计达) and the evidence behind it."""

    product_id: str = Field(description="the product asked about")
    destination: str = Field(description="GB/T 2260 district it goes to")
    paid_at: Instant | None = Field(description="the payment instant the promise assumes")
    promised_date: str | None = Field(description="Shanghai date it arrives by (YYYY-MM-DD)")
    label: str | None = Field(description="today, tomorrow or day_after, when shown")
    probability: float | None = Field(description="share of like parcels signed by then")
    sample_size: int | None = Field(description="parcels behind the estimate")
    backoff_level: int | None = Field(description="how far the route was generalised, 0..n")
    backoff_level_name: str | None = Field(description="that level, named")
    confidence: float = Field(description="the share a promise is built to hold")
    promise_table_as_of: str = Field(description="the history instant the table was built at")
    rulebook_id: RulebookId
    counts_from: str | None = Field(
        description="the Shanghai day the learned days count from (YYYY-MM-DD): the pay day,"
        " or the next day when paid at or after the merchant's cut-off"
    )
    merchant_cutoff_hour: int | None = Field(
        description="the merchant's cut-off observed in its shipments (Shanghai hour, 0-23);"
        " null if none was seen"
    )
    holiday_days: int = Field(
        description="public-holiday days the span steps over: promises count normal days"
    )
    holiday_calendar: str = Field(
        description="chinese_calendar, or fixed_dates_fallback past the package's last year"
        " (only New Year's Day, Labour Day and National Day are known there)"
    )
    slowdown_days: int = Field(
        description="days of declared logistics slowdowns the span steps over (no label then)"
    )
    slowdowns: list[str] = Field(
        description="the names of those slowdowns (GET /v1/logistics/slowdowns)"
    )
    disruption: PromiseDisruption | None = Field(
        description="the declared disruption that pushed the date (no label then); null if none"
    )
    running_late: PromiseRunningLate | None = Field(
        description="the carrier the early signal found running late from the product's or to"
        " the buyer's province (any carrier when none is named; no label then); null if none"
    )


class BadgeSpell(Answer):
    since: Instant = Field(description="when the badge was earned")
    until: Instant | None = Field(description="when it was lost; null while held")
    orders: int = Field(description="orders in the evaluation window")
    signed_within: float = Field(description="share signed within the promise")
    industry: str = Field(description="the merchant's industry")
    industry_orders: int = Field(description="the industry's orders in the window")
    industry_signed_within: float = Field(description="the industry's share")
    rulebook_id: RulebookId


class Badge(Answer):
    """The arrival badge (亮标): held or not, what it does to ranking, its history."""

    merchant_id: str = Field(description="the merchant")
    badged: bool = Field(description="holds the badge now")
    search_filter: bool = Field(description="listed under the fast-arrival search filter")
    exposure_multiplier: str = Field(description="ranking exposure multiplier, as a decimal")
    rulebook_id: RulebookId
    history: list[BadgeSpell] = Field(description="spells held, oldest first")


class Timer(Answer):
    """A timer: what fires when, and what happened."""

    id: str = Field(description="kind and subject, unique")
    kind: str = Field(description="e.g. auto_confirm, complete_order, case deadline kinds")
    subject_id: str = Field(description="the order, case or job it acts on")
    state: str = Field(description=f"{TIMER_STATES_TEXT} (`{FAILED}`: a dead letter)")
    due_at: Instant
    available_at: Instant = Field(description="when it may next be tried (after back-off)")
    attempts: int = Field(description="tries so far")
    last_error: str | None = Field(description="why the last try failed")
    payload: dict[str, Any] | None = Field(description="what the job needs")
    fired_at: Instant | None = Field(description="when it fired")
    outcome: str | None = Field(description="what firing did")


OrderPage = page_of(Order, "OrderPage")
ProductPage = page_of(Product, "ProductPage")
ChangePage = page_of(Change, "ChangePage")
AccountPage = page_of(ListedAccount, "AccountPage")
TimerPage = page_of(Timer, "TimerPage")
