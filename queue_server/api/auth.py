"""Who is calling (bearer token or session cookie) and what their role may do."""

from __future__ import annotations

import datetime as dt
import time
import weakref
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Request, current_app, g, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from sqlalchemy import event
from sqlalchemy.orm import Session, object_session

from ..domain.errors import AUTH_FORBIDDEN, AUTH_REQUIRED, QueueError
from ..persistence.models import ApiToken, Device, User
from ..services import accounts
from ..services.accounts import Principal

F = TypeVar("F", bound=Callable[..., Any])

STAFF = ("staff", "manager", "admin")
MANAGER = ("manager", "admin")
ADMIN = ("admin",)


def hall():  # type: ignore[no-untyped-def]
    return current_app.extensions["hall"]


class CookieSessionsWhenSent(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, but a request without the cookie gets an empty session
    without building the cookie signer (Flask builds one for every request). Kiosks, screens
    and agents send bearer tokens: at 200 issues/s that was 2 % of the server's time."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


#: How long this process reuses a token's principal without asking the database (one
#: transaction per request otherwise). Logout, a new device token, revoking a device or
#: deactivating a user, done through the ORM in this process, clear the cache at once (see
#: ``_forget_principals``); another server process sees such a change within this time, and a
#: user token may be honoured up to this long after it expired.
PRINCIPAL_TTL_S = 2.0
PRINCIPAL_CACHE_MAX = 10_000


class PrincipalCache:
    """Token digest → (principal, monotonic deadline, hall time seen). Only found principals
    are kept; a lookup that raced with a change (``generation`` moved) is not kept."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[Principal, float, dt.datetime]] = {}
        self.generation = 0

    def clear(self) -> None:
        self.generation += 1
        self.entries.clear()


_caches: weakref.WeakSet[PrincipalCache] = weakref.WeakSet()


def _cache() -> PrincipalCache:
    cache = current_app.extensions.get("hall_principals")
    if cache is None:
        cache = current_app.extensions["hall_principals"] = PrincipalCache()
        _caches.add(cache)
    return cache


def _lookup(token: str) -> Principal | None:
    ctx = hall()
    cache = _cache()
    digest = accounts.token_digest(token)
    seen = ctx.now()
    hit = cache.entries.get(digest)
    if hit is not None:
        principal, deadline, at = hit
        # Also bounded by the hall clock, so a moved clock (tests) re-checks expiry.
        if time.monotonic() < deadline and at <= seen < at + dt.timedelta(seconds=PRINCIPAL_TTL_S):
            return principal
    generation = cache.generation
    principal = accounts.bearer_principal(ctx, token)
    if principal is not None and generation == cache.generation:
        if len(cache.entries) >= PRINCIPAL_CACHE_MAX:
            cache.entries.clear()
        cache.entries[digest] = (principal, time.monotonic() + PRINCIPAL_TTL_S, seen)
    return principal


def _forget_all(*_args: Any) -> None:
    for cache in list(_caches):
        cache.clear()


def _forget_principals(_mapper: Any, _connection: Any, target: Any) -> None:
    """A user, device or token row changed: forget every cached principal now, and again when
    the change commits (a lookup in between may have read the old row)."""
    _forget_all()
    s = object_session(target)
    if isinstance(s, Session):
        event.listen(s, "after_commit", _forget_all, once=True)


for _model in (User, Device, ApiToken):
    for _when in ("after_insert", "after_update", "after_delete"):
        event.listen(_model, _when, _forget_principals)


def current_principal() -> Principal | None:
    if "principal" in g:
        return g.principal
    principal = None
    token = bearer_token() or session.get("token")
    if token:
        principal = _lookup(token)
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
