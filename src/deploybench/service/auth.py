"""Who calls: the bearer token of each request, found in the store, and the roles each route admits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from deploybench.store import ResultStore
from deploybench.store.tokens import Role, Token, find_token

READ = frozenset(Role)
SUBMIT = frozenset({Role.SUBMITTER, Role.ADMIN})
UPLOAD = frozenset({Role.SUBMITTER, Role.OWNER, Role.ADMIN})
AGENT = frozenset({Role.AGENT})
MANAGE = frozenset({Role.OWNER, Role.ADMIN})

bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def store_of(request: Request) -> ResultStore:
    """The application's results store."""
    store: ResultStore = request.app.state.store
    return store


def allow(roles: frozenset[Role]) -> Callable[..., Token]:
    """A dependency admitting a live token of one of the roles: 401 without a valid token, 403 for another role."""

    def check(request: Request, credentials: Credentials) -> Token:
        if credentials is None:
            raise HTTPException(401, "no API token: send `Authorization: Bearer TOKEN`")
        token = find_token(store_of(request), credentials.credentials)
        if token is None:
            raise HTTPException(401, "unknown or revoked API token")
        if token.role not in roles:
            wanted = ", ".join(sorted(role.value for role in roles))
            raise HTTPException(403, f"a {token.role.value} token cannot do this (it needs: {wanted})")
        return token

    return check


Reader = Annotated[Token, Depends(allow(READ))]
Uploader = Annotated[Token, Depends(allow(UPLOAD))]
Submitter = Annotated[Token, Depends(allow(SUBMIT))]
Agent = Annotated[Token, Depends(allow(AGENT))]
Manager = Annotated[Token, Depends(allow(MANAGE))]
"""An admin, or a board owner acting on its own board's agent tokens."""
