"""`GET /v1/audit` (operator): the audit log every command writes, filtered and paged."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from buyerguard.api.access import GuardedRoute, allow
from buyerguard.api.answers import answers
from buyerguard.api.case_answers import AuditPage
from buyerguard.api.params import CallerDep, Limit, page
from buyerguard.api.runtime import runtime
from buyerguard.api.schemas import MAX_INT32, TEXT_PATTERN
from buyerguard.api.views import instant
from buyerguard.clock import parse_instant
from buyerguard.services.records import AuditQuery, audit_entries

router = APIRouter(prefix="/v1", route_class=GuardedRoute)  # app.py includes it (routes.ROUTERS)


def audit_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "actor": row["actor"],
        "token_id": row["token_id"],
        "command": row["command"],
        "subject_id": row["subject_id"],
        "occurred_at": instant(row["occurred_at"]),
        "recorded_at": instant(row["recorded_at"]),
        "details": row["details"],
    }


def audit_query(
    subject: str | None, actor: str | None, since: str | None, until: str | None
) -> AuditQuery:
    """The filters as given; instants parsed (a malformed one is refused, naming it)."""
    return AuditQuery(
        subject_id=subject,
        actor=actor,
        since=parse_instant(since, field="since") if since else None,
        until=parse_instant(until, field="until") if until else None,
    )


@router.get("/audit", tags=["audit"], **answers(AuditPage), **allow())
def list_audit(
    request: Request,
    caller: CallerDep,
    subject: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=160,
            pattern=TEXT_PATTERN,
            description="what it was about: an order, case, merchant… id",
        ),
    ] = None,
    actor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=96,
            pattern=TEXT_PATTERN,
            description="who: e.g. marketplace, merchant:M1, scheduler",
        ),
    ] = None,
    since: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="recorded at or after (ISO-8601)"),
    ] = None,
    until: Annotated[
        str | None, Query(min_length=1, max_length=64, description="recorded before (ISO-8601)")
    ] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_INT32, description="`next_cursor`")] = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """What every command recorded (who, with which token, what, about what, when), in the
    order it was written."""
    query = audit_query(subject, actor, since, until)
    with runtime(request).reading(caller) as ctx:
        ctx.require_role("read the audit log")
        rows = audit_entries(ctx.connection, query, after_id=after, limit=limit + 1)
    return page([audit_view(row) for row in rows], limit)
