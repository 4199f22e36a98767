"""The dashboard's browser session: an access token in an HttpOnly cookie, and its CSRF token.

The cookie holds the same signed token POST /auth/token issues (app/services/auth.py), so
logout, a password change and token expiry end a browser session exactly as they end a token.
A cookie is sent by the browser on its own, so every state-changing request it authenticates
must also carry the CSRF token, which only pages of this origin can read: an HMAC of the
token's jti under the app's secret key (nothing stored; it dies with the session).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from app.errors import Forbidden

SESSION_COOKIE = "trainq_session"
#: The login form's double-submit token: a random value in a cookie and in the form.
LOGIN_CSRF_COOKIE = "trainq_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
#: Lax: the cookie is not sent on cross-site POSTs, yet a link to a job page from a chat or
#: a mail opens it signed in (Strict would show the login form first).
SAME_SITE = "Lax"
CSRF_REFUSED = ("this request needs the page's CSRF token (header X-CSRF-Token or form field "
                "csrf_token); reload the page and try again")


def csrf_token(secret_key: str, claims: dict) -> str:
    message = f"csrf|{claims['jti']}|{claims['sub']}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def check_csrf(secret_key: str, claims: dict, sent: str | None) -> None:
    """403 unless `sent` is the session's CSRF token."""
    if not sent or not hmac.compare_digest(sent, csrf_token(secret_key, claims)):
        raise Forbidden(CSRF_REFUSED)


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def check_login_csrf(cookie: str | None, sent: str | None) -> None:
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise Forbidden(CSRF_REFUSED)


def cookie_options(secure: bool, max_age: int | None) -> dict:
    """Flags of both cookies: HttpOnly (no script reads them), SameSite, Secure over HTTPS."""
    return {"httponly": True, "samesite": SAME_SITE, "secure": secure, "path": "/",
            "max_age": max_age}
