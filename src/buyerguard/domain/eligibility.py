"""May the buyer ask? Seven-day no-reason returns and quality claims (policies.md §2).

A no-reason return is judged by two rulebooks: the terms the sub-order was
sold under (its `terms_at_payment` snapshot: the class, and whether the sold
tier offered 7-day returns — a later catalogue edit never grants or withdraws
them) and the rulebook in force at the request, which says whether the class
is excluded today and how long the window is. The window is counted from the
Shanghai day after signing: signed 2024-03-01 14:00 → the last moment is
2024-03-08 23:59:59.

Both rules return an explained `Decision` with no money in it (amount 0):
`details["eligible"]` is the answer, `details["code"]` the machine-readable
reason and `details["window_ends_at"]` the exclusive end of the window (UTC
ISO), so the case service can refuse with the code and show the deadline.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from buyerguard.clock import ensure_utc, format_instant, local_date, window_end_after_day
from buyerguard.domain.catalog import ReturnKind, return_kind
from buyerguard.domain.decision import PLATFORM, Decision, party
from buyerguard.rulebook import Rulebook

RETURN_ELIGIBILITY = "return_eligibility"
QUALITY_CLAIM_ELIGIBILITY = "quality_claim_eligibility"

# details["code"] values
ELIGIBLE = "eligible"
NO_TERMS = "no_terms"
NOT_SIGNED = "not_signed"
CLASS_EXCLUDED = "class_excluded"
NOT_OFFERED = "not_offered"
WINDOW_CLOSED = "window_closed"

WINDOW_RULE = "returns.window_days"
EXCLUDED_RULE = "returns.excluded_categories"
OPTIONAL_RULE = "returns.optional_categories"
QUALITY_WINDOW_RULE = "returns.quality_claim_days"


def _decision(
    *,
    kind: str,
    sub_order_id: str,
    rulebook: Rulebook,
    rule_ids: list[str],
    eligible: bool,
    code: str,
    window_ends_at: datetime | None,
    explanation: str,
    extra: Mapping[str, object] | None = None,
) -> Decision:
    details: dict[str, object] = {
        "eligible": eligible,
        "code": code,
        "window_ends_at": format_instant(window_ends_at) if window_ends_at is not None else None,
    }
    details.update(extra or {})
    return Decision(
        kind=kind,
        subject_id=sub_order_id,
        amount_fen=0,
        payer=PLATFORM,
        payee=party("sub_order", sub_order_id),
        rule_ids=tuple(dict.fromkeys(rule_ids)),
        rulebook_id=rulebook.id,
        explanation=explanation,
        details=details,
    )


def _last_day_text(window_ends_at: datetime) -> str:
    """The last Shanghai day of a window whose exclusive end is `window_ends_at`."""
    return (local_date(window_ends_at) - timedelta(days=1)).isoformat()


def _class_kind(return_class: str, return_terms: Mapping[str, object], rulebook: Rulebook) -> str:
    """The class's kind under the rulebook at the request; a name it no longer knows keeps
    the kind it had at payment, else it is mandatory (§2: "every other category")."""
    kind = return_kind(return_class, rulebook)
    if kind is not None:
        return kind.value
    sold_as = return_terms.get("class_kind")
    if isinstance(sold_as, str) and sold_as in {k.value for k in ReturnKind}:
        return sold_as
    return ReturnKind.MANDATORY.value


def no_reason_return(
    *,
    sub_order_id: str,
    terms: Mapping[str, object] | None,
    signed_at: datetime | None,
    requested_at: datetime,
    rulebook: Rulebook,
) -> Decision:
    """May the buyer request a 7-day no-reason return of this sub-order at `requested_at`?

    `terms` is the sub-order's `terms_at_payment`; `rulebook` the one in force at
    the request. Refusals, in the order they are checked (permanent ones first,
    so a buyer is never told "wait" about a return that can never be):
    `no_terms` (no usable snapshot), `class_excluded` (the class is excluded
    under the rulebook at the request), `not_offered` (the sold tier did not
    offer 7-day returns — an optional class the merchant did not opt into, or a
    tier that need not), `not_signed` (not signed for at the request),
    `window_closed` (at or after the end of the window).
    """
    requested_at = ensure_utc(requested_at, field="requested_at")
    if signed_at is not None:
        signed_at = ensure_utc(signed_at, field="signed_at")
    window_days = rulebook.returns.window_days
    window_ends_at = window_end_after_day(signed_at, window_days) if signed_at is not None else None

    def refuse(code: str, rule_ids: list[str], why: str, **extra: object) -> Decision:
        return _decision(
            kind=RETURN_ELIGIBILITY,
            sub_order_id=sub_order_id,
            rulebook=rulebook,
            rule_ids=rule_ids,
            eligible=False,
            code=code,
            window_ends_at=window_ends_at,
            explanation=f"no 7-day no-reason return for {sub_order_id}: {why}",
            extra=extra,
        )

    return_class = terms.get("return_class") if terms is not None else None
    return_terms = terms.get("return_terms") if terms is not None else None
    if not isinstance(return_class, str) or not isinstance(return_terms, Mapping):
        return refuse(
            NO_TERMS,
            [WINDOW_RULE],
            "the sub-order keeps no terms from its payment to judge the return by",
        )
    class_kind = _class_kind(return_class, return_terms, rulebook)
    class_rules = [EXCLUDED_RULE] + ([OPTIONAL_RULE] if class_kind == ReturnKind.OPTIONAL else [])
    facts: dict[str, object] = {
        "return_class": return_class,
        "class_kind": class_kind,
        "sold_under_rulebook": terms.get("rulebook_id") if terms is not None else None,
        "sold_under_rule": return_terms.get("rule_id"),
    }
    if class_kind == ReturnKind.EXCLUDED:
        return refuse(
            CLASS_EXCLUDED,
            class_rules,
            f"{return_class} is a class excluded from no-reason returns",
            **facts,
        )
    if return_terms.get("seven_day_returns") is not True:
        why = (
            f"{return_class} is optional and the merchant did not offer 7-day returns on it"
            if class_kind == ReturnKind.OPTIONAL
            else "the tier it was sold in did not offer 7-day returns"
        )
        return refuse(NOT_OFFERED, class_rules, why, **facts)
    if signed_at is None or requested_at < signed_at:
        return refuse(
            NOT_SIGNED,
            [*class_rules, WINDOW_RULE],
            "the goods were not signed for at the request; the window starts the day after",
            **facts,
        )
    assert window_ends_at is not None  # signed_at is known here
    last_day = _last_day_text(window_ends_at)
    if requested_at >= window_ends_at:
        return refuse(
            WINDOW_CLOSED,
            [*class_rules, WINDOW_RULE],
            f"the {window_days}-day window closed at the end of {last_day} (Shanghai)",
            **facts,
        )
    class_text = return_class if return_class == class_kind else f"{return_class} ({class_kind})"
    return _decision(
        kind=RETURN_ELIGIBILITY,
        sub_order_id=sub_order_id,
        rulebook=rulebook,
        rule_ids=[*class_rules, WINDOW_RULE],
        eligible=True,
        code=ELIGIBLE,
        window_ends_at=window_ends_at,
        explanation=(
            f"{sub_order_id} may be returned without reason: {class_text} sold with 7-day "
            f"returns, requested within the {window_days}-day window "
            f"ending {last_day} 23:59:59 (Shanghai)"
        ),
        extra=facts,
    )


def quality_claim(
    *,
    sub_order_id: str,
    signed_at: datetime | None,
    requested_at: datetime,
    rulebook: Rulebook,
) -> Decision:
    """May the buyer claim a quality problem (a quality return, or a quality refund-only on
    received goods) at `requested_at`?

    Any class, any tier: quality is not a no-reason return. The goods must have
    been signed for (`not_signed`: a parcel not yet received is a not-received
    refund-only, not a quality claim), and the request must fall within
    `returns.quality_claim_days` counted like the 7-day window, from the
    Shanghai day after signing (`window_closed`).
    """
    requested_at = ensure_utc(requested_at, field="requested_at")
    days = rulebook.returns.quality_claim_days
    if signed_at is None or requested_at < ensure_utc(signed_at, field="signed_at"):
        return _decision(
            kind=QUALITY_CLAIM_ELIGIBILITY,
            sub_order_id=sub_order_id,
            rulebook=rulebook,
            rule_ids=[QUALITY_WINDOW_RULE],
            eligible=False,
            code=NOT_SIGNED,
            window_ends_at=None,
            explanation=(
                f"no quality claim for {sub_order_id}: the goods were not signed for at the "
                "request (ask for a not-received refund instead)"
            ),
        )
    window_ends_at = window_end_after_day(signed_at, days)
    last_day = _last_day_text(window_ends_at)
    if requested_at >= window_ends_at:
        return _decision(
            kind=QUALITY_CLAIM_ELIGIBILITY,
            sub_order_id=sub_order_id,
            rulebook=rulebook,
            rule_ids=[QUALITY_WINDOW_RULE],
            eligible=False,
            code=WINDOW_CLOSED,
            window_ends_at=window_ends_at,
            explanation=(
                f"no quality claim for {sub_order_id}: the {days}-day window closed at the end "
                f"of {last_day} (Shanghai)"
            ),
        )
    return _decision(
        kind=QUALITY_CLAIM_ELIGIBILITY,
        sub_order_id=sub_order_id,
        rulebook=rulebook,
        rule_ids=[QUALITY_WINDOW_RULE],
        eligible=True,
        code=ELIGIBLE,
        window_ends_at=window_ends_at,
        explanation=(
            f"{sub_order_id} may be claimed for quality: requested within the {days}-day "
            f"window ending {last_day} 23:59:59 (Shanghai)"
        ),
    )
