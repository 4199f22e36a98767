"""Users, password hashes and signed access tokens (expiry, version, revocation by jti)."""
from __future__ import annotations

import secrets
import time
from datetime import datetime, timezone
from functools import lru_cache

import jwt
from sqlalchemy import delete, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import Conflict, InvalidInput, Unauthorized
from app.models import Membership, RevokedToken, User, Workspace
from app.models.base import utcnow
from app.models.workspace import DEFAULT_WORKSPACE_ID

ALGORITHM = "HS256"  # the only one accepted when decoding: no 'none', no algorithm confusion
REQUIRED_CLAIMS = ["exp", "iat", "sub", "ver", "jti"]
MIN_PASSWORD_LENGTH = 8


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Compared against when the user does not exist, so a wrong name costs as long as a wrong
    password. Made on first use: a hash is deliberately slow, and importing must do no work."""
    return generate_password_hash("not-a-real-password")


def create_user(session, username: str, password: str, is_admin: bool = False) -> User:
    _check_password(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    user = User(username=username, password_hash=generate_password_hash(password),
                is_admin=is_admin)
    session.add(user)
    session.flush()
    return user


def set_password(session, user: User, password: str) -> None:
    """A new password; every token issued before it stops working (token_version)."""
    _check_password(password)
    user.password_hash = generate_password_hash(password)
    user.token_version += 1


def ensure_admin(session, username: str, password: str) -> bool:
    """Create the bootstrap admin if missing; True when it was created.

    It becomes the manager of the default workspace, so it can submit without naming one."""
    if not password or session.scalar(select(User.id).where(User.username == username)):
        return False
    user = create_user(session, username, password, is_admin=True)
    if session.get(Workspace, DEFAULT_WORKSPACE_ID) is not None:
        session.add(Membership(workspace_id=DEFAULT_WORKSPACE_ID, user_id=user.id,
                               role="manager"))
    return True


def check_credentials(session, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if not check_password_hash(user.password_hash if user else _dummy_hash(), password) or not user:
        raise Unauthorized("wrong username or password")
    return user


def issue_token(user: User, secret_key: str, ttl_seconds: int) -> dict:
    now = int(time.time())
    claims = {"sub": str(user.id), "ver": user.token_version, "iat": now,
              "exp": now + ttl_seconds, "jti": secrets.token_hex(8)}
    return {"access_token": jwt.encode(claims, secret_key, algorithm=ALGORITHM),
            "expires_in": ttl_seconds, "token_type": "Bearer"}


def decode_token(token: str, secret_key: str) -> dict:
    """The claims of a token signed by us with HS256 that has not expired; 401 otherwise."""
    try:
        # algorithms is fixed here, never taken from the token's header (RFC 8725 2.1).
        return jwt.decode(token, secret_key, algorithms=[ALGORITHM],
                          options={"require": REQUIRED_CLAIMS})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the access token has expired; get a new one from POST /auth/token")
    except jwt.InvalidTokenError:
        raise Unauthorized("the access token is not valid; get one from POST /auth/token")


def user_from_claims(session, claims: dict) -> User:
    """The token's user, unless it was logged out, its password changed or the user removed."""
    sub, jti = str(claims["sub"]), str(claims["jti"])[:64]
    user = session.get(User, int(sub)) if sub.isdigit() and len(sub) < 19 else None
    if (user is None or user.token_version != claims["ver"]
            or session.get(RevokedToken, jti) is not None):
        raise Unauthorized(
            "the access token is no longer valid; get a new one from POST /auth/token")
    return user


def user_from_token(session, token: str, secret_key: str) -> User:
    return user_from_claims(session, decode_token(token, secret_key))


def revoke_token(session, claims: dict) -> None:
    """Deny this token from now until it expires; forget denials of expired tokens."""
    now = utcnow()
    session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    if session.get(RevokedToken, str(claims["jti"])) is None:
        expires = datetime.fromtimestamp(int(claims["exp"]), timezone.utc)
        session.add(RevokedToken(jti=str(claims["jti"])[:64], expires_at=expires))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(errors={"password": [f"use at least {MIN_PASSWORD_LENGTH} characters"]})
