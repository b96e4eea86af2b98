"""Users with roles, login tokens, and device tokens. Secrets are stored only as hashes."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain.errors import AUTH_INVALID, VALIDATION, QueueError
from ..persistence.models import ApiToken, Device, User
from .context import HallContext

log = logging.getLogger(__name__)
ROLES = ("staff", "manager", "admin")
DEVICE_KINDS = ("kiosk", "display", "agent", "lis")  # lis: the lab system (queue_server/lab)
TOKEN_LIFETIME = dt.timedelta(hours=12)
DEVICE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")  # the site file's ids
_hasher = PasswordHasher()
# Verifying against this keeps the time of "no such user" equal to "wrong password".
_DUMMY_HASH = _hasher.hash("not-a-real-password")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user with a role, or a device of a kind."""

    kind: str  # user | device
    id: str
    role: str  # staff | manager | admin for users; kiosk | display | agent for devices
    user_id: int | None = None

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.id}"

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(ctx: HallContext, username: str, role: str, password: str) -> int:
    if role not in ROLES:
        raise QueueError(VALIDATION, f"role must be one of {', '.join(ROLES)}", field="role")
    if len(password) < 8:
        raise QueueError(VALIDATION, "password must have at least 8 characters", field="password")
    if not username or len(username) > 64:
        raise QueueError(VALIDATION, "username must have 1-64 characters", field="username")
    digest = _hasher.hash(password)

    def work(s: Session) -> int:
        user = User(
            username=username, role=role, password_hash=digest, active=True, created_at=ctx.now()
        )
        s.add(user)
        s.flush()
        return user.id

    try:
        return ctx.db.run(work)
    except IntegrityError:
        raise QueueError(VALIDATION, f"user {username!r} exists", field="username") from None


def login(ctx: HallContext, username: str, password: str) -> tuple[Principal, str]:
    """Check a password; returns the principal and a new bearer token."""

    def work(s: Session) -> tuple[Principal, str] | None:
        user = s.scalars(select(User).where(User.username == username)).one_or_none()
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or not user.active:
            return None
        token = secrets.token_urlsafe(32)
        now = ctx.now()
        s.add(
            ApiToken(
                token_hash=token_digest(token),
                user_id=user.id,
                created_at=now,
                expires_at=now + TOKEN_LIFETIME,
            )
        )
        return Principal("user", user.username, user.role, user.id), token

    result = ctx.db.run(work)
    if result is None:
        log.info("failed login")
        raise QueueError(AUTH_INVALID, "wrong username or password")
    return result


def user_principal(ctx: HallContext, user_id: int) -> Principal | None:
    def work(s: Session) -> Principal | None:
        user = s.get(User, user_id)
        if user is None or not user.active:
            return None
        return Principal("user", user.username, user.role, user.id)

    return ctx.db.run(work)


def bearer_principal(ctx: HallContext, token: str) -> Principal | None:
    """The user or device a bearer token belongs to, or None."""
    digest = token_digest(token)

    def work(s: Session) -> Principal | None:
        row = s.get(ApiToken, digest)
        if row is not None:
            if row.expires_at < ctx.now():
                return None
            user = s.get(User, row.user_id)
            if user is None or not user.active:
                return None
            return Principal("user", user.username, user.role, user.id)
        device = s.scalars(select(Device).where(Device.token_hash == digest)).one_or_none()
        if device is None or device.revoked:
            return None
        return Principal("device", device.id, device.kind)

    return ctx.db.run(work)


def logout(ctx: HallContext, token: str) -> None:
    def work(s: Session) -> None:
        row = s.get(ApiToken, token_digest(token))
        if row is not None:
            s.delete(row)

    ctx.db.run(work)


def add_device(ctx: HallContext, kind: str, device_id: str) -> str:
    """Register a device; returns its token, which is stored only as a hash."""
    if kind not in DEVICE_KINDS:
        raise QueueError(VALIDATION, f"kind must be one of {', '.join(DEVICE_KINDS)}", field="kind")
    if not DEVICE_ID.match(device_id):
        raise QueueError(
            VALIDATION, "device id must be 1-32 lowercase letters, digits, '-' or '_'", field="id"
        )
    token = secrets.token_urlsafe(32)

    def work(s: Session) -> None:
        existing = s.get(Device, device_id)
        if existing is not None:
            existing.kind = kind
            existing.token_hash = token_digest(token)
            existing.revoked = False
        else:
            s.add(
                Device(
                    id=device_id, kind=kind, token_hash=token_digest(token), created_at=ctx.now()
                )
            )

    ctx.db.run(work)
    return token
