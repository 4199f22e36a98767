"""Users, password hashes and signed access tokens."""
from __future__ import annotations

import secrets
import time

import jwt
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import Conflict, InvalidInput, Unauthorized
from app.models import User

ALGORITHM = "HS256"  # the only one accepted when decoding: no 'none', no algorithm confusion
MIN_PASSWORD_LENGTH = 8
# Compared against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def create_user(session, username: str, password: str, is_admin: bool = False) -> User:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(errors={"password": [f"use at least {MIN_PASSWORD_LENGTH} characters"]})
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    user = User(username=username, password_hash=generate_password_hash(password),
                is_admin=is_admin)
    session.add(user)
    session.flush()
    return user


def ensure_admin(session, username: str, password: str) -> bool:
    """Create the bootstrap admin if missing; True when it was created."""
    if not password or session.scalar(select(User.id).where(User.username == username)):
        return False
    create_user(session, username, password, is_admin=True)
    return True


def check_credentials(session, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if not check_password_hash(user.password_hash if user else _DUMMY_HASH, password) or not user:
        raise Unauthorized("wrong username or password")
    return user


def issue_token(user: User, secret_key: str, ttl_seconds: int) -> dict:
    now = int(time.time())
    claims = {"sub": str(user.id), "ver": user.token_version, "iat": now,
              "exp": now + ttl_seconds, "jti": secrets.token_hex(8)}
    return {"access_token": jwt.encode(claims, secret_key, algorithm=ALGORITHM),
            "expires_in": ttl_seconds, "token_type": "Bearer"}


def user_from_token(session, token: str, secret_key: str) -> User:
    try:
        claims = jwt.decode(token, secret_key, algorithms=[ALGORITHM],
                            options={"require": ["exp", "sub", "ver"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the access token has expired; get a new one from POST /auth/token")
    except jwt.InvalidTokenError:
        raise Unauthorized("the access token is not valid; get one from POST /auth/token")
    user = session.get(User, int(claims["sub"])) if str(claims["sub"]).isdigit() else None
    if user is None or user.token_version != claims["ver"]:
        raise Unauthorized("the access token is no longer valid; get a new one from POST /auth/token")
    return user
