"""The service's API tokens: made with a role (reader, submitter, owner, agent, admin) and, for an agent or a
board owner, the target it is bound to; kept only as SHA-256 digests, so a stolen database yields no token."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from deploybench.core.errors import ConfigurationError
from deploybench.store.results import ResultStore
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


def revoke_token(store: ResultStore, token_id: int) -> bool:
    """Revoke a token by id; whether there was such a live token."""
    with store.writing() as session, session.begin():
        row = session.get(TokenRow, token_id)
        if row is None or row.revoked:
            return False
        row.revoked = True
        return True
