"""The service's API tokens: made with a role (reader, submitter, owner, agent, admin) and, for an agent or a
board owner, the target it is bound to; kept only as SHA-256 digests, so a stolen database yields no token."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from deploybench.core.errors import ConfigurationError
from deploybench.store.results import ResultStore, as_utc
from deploybench.store.schema import TokenRow


class Role(str, Enum):
    """What a token may do."""

    READER = "reader"
    SUBMITTER = "submitter"
    OWNER = "owner"
    AGENT = "agent"
    ADMIN = "admin"


BOUND = {Role.OWNER, Role.AGENT}
"""Roles that act for one target only."""


@dataclass(frozen=True)
class Token:
    """Who a presented token is."""

    id: int
    role: Role
    target: str | None
    name: str


def digest(secret: str) -> str:
    """The SHA-256 of a token's secret, as stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(store: ResultStore, role: Role, name: str, target: str | None = None) -> tuple[Token, str]:
    """A new token and its secret (shown once: only its digest is kept)."""
    if (role in BOUND) != (target is not None):
        raise ConfigurationError(
            f"a token of role {role.value} {'needs' if role in BOUND else 'takes no'} --target",
            hint="agent and owner tokens act for one target; the other roles for none",
        )
    secret = f"dbt_{secrets.token_urlsafe(32)}"
    row = TokenRow(
        digest=digest(secret), role=role.value, target=target, name=name, created_at=store.now(), revoked=False
    )
    with store.writing() as session, session.begin():
        session.add(row)
        session.flush()
        token = Token(row.id, role, target, name)
    return token, secret


def find_token(store: ResultStore, secret: str) -> Token | None:
    """The live token with that secret; None for an unknown or revoked one."""
    query = select(TokenRow).where(TokenRow.digest == digest(secret), TokenRow.revoked.is_(False))
    with Session(store.engine) as session:
        row = session.scalars(query).first()
        return None if row is None else Token(row.id, Role(row.role), row.target, row.name)


@dataclass(frozen=True)
class TokenListing:
    """A token as its managers see it: never its secret."""

    id: int
    role: Role
    target: str | None
    name: str
    created_at: datetime
    revoked: bool

    def public(self) -> dict[str, Any]:
        """As JSON-ready values."""
        return {
            "id": self.id,
            "role": self.role.value,
            "target": self.target,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "revoked": self.revoked,
        }


def list_tokens(store: ResultStore, target: str | None = None) -> list[TokenListing]:
    """Every token, or those acting for one target, oldest first."""
    query = select(TokenRow).order_by(TokenRow.id)
    if target is not None:
        query = query.where(TokenRow.target == target)
    with Session(store.engine) as session:
        return [_listing(row) for row in session.scalars(query).all()]


def token_by_id(store: ResultStore, token_id: int) -> TokenListing | None:
    """The token with that id, live or revoked; None when there is none."""
    with Session(store.engine) as session:
        row = session.get(TokenRow, token_id)
        return None if row is None else _listing(row)


def _listing(row: TokenRow) -> TokenListing:
    return TokenListing(row.id, Role(row.role), row.target, row.name, as_utc(row.created_at), row.revoked)


def revoke_token(store: ResultStore, token_id: int) -> bool:
    """Revoke a token by id; whether there was such a live token."""
    with store.writing() as session, session.begin():
        row = session.get(TokenRow, token_id)
        if row is None or row.revoked:
            return False
        row.revoked = True
        return True
