"""One HTTP attempt at a delivery. Never raises: the outcome says what happened."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

import requests

from app.webhooks.address import AddressRefused, check_url_form

USER_AGENT = "trainq-webhooks/1"


@dataclass
class Outcome:
    delivered: bool
    status_code: int | None = None
    error: str | None = None
    #: Seconds the receiver asked us to wait (Retry-After on 429/503).
    retry_after: float | None = None

    @property
    def gone(self) -> bool:
        """410 Gone: the receiver says this endpoint will never accept it (Standard Webhooks)."""
        return self.status_code == 410


def signature(key: bytes, event_id: str, timestamp: str, body: str) -> str:
    """Standard Webhooks: v1,base64(HMAC-SHA256(key, id.timestamp.body)), where `key` is the
    decoded secret (config/webhook_secret.py), never the whsec_ string itself."""
    digest = hmac.new(key, f"{event_id}.{timestamp}.{body}".encode(), hashlib.sha256)
    return "v1," + base64.b64encode(digest.digest()).decode()


def send(session: requests.Session, url: str, event_id: str, payload: dict, *, timeout: float,
         key: bytes = b"") -> Outcome:
    body = json.dumps(payload, separators=(",", ":"))
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "webhook-id": event_id, "webhook-timestamp": timestamp}
    if key:
        headers["webhook-signature"] = signature(key, event_id, timestamp, body)
    try:
        check_url_form(url)
        # Redirects are not followed: a redirect could point the body at an internal address.
        # The session (transport.guarded_session) checks the address it connects to.
        response = session.post(url, data=body.encode(), headers=headers, timeout=timeout,
                                allow_redirects=False)
    except AddressRefused as exc:
        return Outcome(False, error=f"not sent: {exc}"[:1000])
    except requests.RequestException as exc:
        return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:1000])
    return _judge(response)


def _judge(response: requests.Response) -> Outcome:
    if not 200 <= response.status_code < 300:
        return Outcome(False, response.status_code, f"HTTP {response.status_code}: "
                       f"{response.text[:300]}", _retry_after(response))
    try:
        answer = response.json()
    except ValueError:
        return Outcome(True, response.status_code)
    if isinstance(answer, dict) and answer.get("success") is False:
        return Outcome(False, response.status_code,
                       f"receiver answered success=false: {answer.get('msg')!r}"[:1000])
    return Outcome(True, response.status_code)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return min(float(value), 3600.0) if value.isdigit() else None
