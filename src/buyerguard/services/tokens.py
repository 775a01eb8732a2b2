"""API tokens: shown once, stored as SHA-256 hashes, expirable and revocable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from buyerguard.clock import format_instant
from buyerguard.errors import InvalidInput, NotFound, Unauthorized
from buyerguard.services.context import Actor, Context, Role
from buyerguard.services.records import audit
from buyerguard.store.tables import api_tokens, buyers, merchants

TOKEN_PREFIX = "bg_"
PARTY_ROLES = {Role.MERCHANT: merchants, Role.BUYER: buyers}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    secret: str
    role: Role
    party_id: str | None
    expires_at: datetime | None
    created_at: datetime


def create_token(
    ctx: Context,
    role: Role,
    party_id: str | None,
    expires_at: datetime | None = None,
    label: str = "",
) -> IssuedToken:
    """Issue a token; the audit trail records who issued which (never its secret)."""
    connection, now = ctx.connection, ctx.now()
    if role is Role.SYSTEM:
        raise InvalidInput("role_not_issuable", "system tokens cannot be issued", "role")
    table = PARTY_ROLES.get(role)
    if table is not None:
        if not party_id:
            raise InvalidInput("party_missing", f"a {role.value} token needs --party", "party")
        if connection.execute(select(table.c.id).where(table.c.id == party_id)).first() is None:
            raise InvalidInput("party_unknown", f"no {role.value} {party_id}", "party")
    elif party_id:
        raise InvalidInput("party_not_allowed", f"a {role.value} token has no party", "party")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("expiry_in_past", "expires_at must be in the future", "expires_at")
    token_id = f"tok_{secrets.token_hex(6)}"
    secret = f"{TOKEN_PREFIX}{secrets.token_urlsafe(32)}"
    connection.execute(
        insert(api_tokens).values(
            id=token_id,
            token_hash=_hash(secret),
            role=role.value,
            party_id=party_id,
            label=label,
            created_at=now,
            expires_at=expires_at,
        )
    )
    audit(
        ctx,
        "create_token",
        token_id,
        now,
        role=role.value,
        party_id=party_id,
        label=label,
        expires_at=None if expires_at is None else format_instant(expires_at),
    )
    return IssuedToken(token_id, secret, role, party_id, expires_at, now)


_TOKEN_BY_HASH = select(api_tokens).where(api_tokens.c.token_hash == bindparam("token_hash"))


def token_hash(secret: str) -> str:
    """What the store keeps of a token (and what a cache of looked-up tokens is keyed by)."""
    return _hash(secret)


def refuse_expired(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is not None and expires_at <= now:
        raise Unauthorized("token_expired", "this token has expired", "authorization")


def authenticate_hash(
    connection: Connection, hashed: str, now: datetime
) -> tuple[Actor, datetime | None]:
    """The caller a token's hash stands for, and when the token expires (None: never)."""
    row = connection.execute(_TOKEN_BY_HASH, {"token_hash": hashed}).first()
    if row is None:
        raise Unauthorized("token_unknown", "unknown bearer token", "authorization")
    if row.revoked_at is not None:
        raise Unauthorized("token_revoked", "this token was revoked", "authorization")
    refuse_expired(row.expires_at, now)
    return Actor(Role(row.role), row.party_id, row.id), row.expires_at


def authenticate(connection: Connection, secret: str, now: datetime) -> Actor:
    return authenticate_hash(connection, _hash(secret), now)[0]


def list_tokens(connection: Connection, now: datetime) -> list[dict[str, object]]:
    """Every token, newest first, without its hash: id, role, party, label, when, and
    whether it still works (`active`, `expired` or `revoked`)."""
    rows = connection.execute(
        select(api_tokens).order_by(api_tokens.c.created_at.desc(), api_tokens.c.id)
    ).mappings()
    listed: list[dict[str, object]] = []
    for row in rows:
        if row["revoked_at"] is not None:
            status = "revoked"
        elif row["expires_at"] is not None and row["expires_at"] <= now:
            status = "expired"
        else:
            status = "active"
        shown = {name: row[name] for name in row if name != "token_hash"}
        listed.append({**shown, "status": status})
    return listed


def revoke_token(ctx: Context, token_id: str) -> None:
    """Revoke an active token; the audit trail records who revoked it."""
    now = ctx.now()
    result = ctx.connection.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if result.rowcount != 1:
        raise NotFound("token_not_found", f"no active token {token_id}", "token_id")
    audit(ctx, "revoke_token", token_id, now)
