"""Who is calling (bearer token or session cookie) and what their role may do."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request, session

from ..domain.errors import AUTH_FORBIDDEN, AUTH_REQUIRED, QueueError
from ..services import accounts
from ..services.accounts import Principal

F = TypeVar("F", bound=Callable[..., Any])

STAFF = ("staff", "manager", "admin")
MANAGER = ("manager", "admin")
ADMIN = ("admin",)


def hall():  # type: ignore[no-untyped-def]
    return current_app.extensions["hall"]


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def current_principal() -> Principal | None:
    if "principal" in g:
        return g.principal
    principal = None
    token = bearer_token() or session.get("token")
    if token:
        principal = accounts.bearer_principal(hall(), token)
    g.principal = principal
    return principal


def require(*, users: tuple[str, ...] = (), devices: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Allow users with one of ``users`` roles and devices of one of ``devices`` kinds."""

    def decorate(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            p = current_principal()
            if p is None:
                raise QueueError(AUTH_REQUIRED, "log in or send a valid bearer token")
            allowed = users if p.kind == "user" else devices
            if p.role not in allowed:
                raise QueueError(AUTH_FORBIDDEN, f"a {p.role} may not do this")
            return fn(*args, **kwargs)

        wrapper.roles = {"users": users, "devices": devices}  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def public(fn: F) -> F:
    fn.roles = {"public": True}  # type: ignore[attr-defined]
    return fn
