"""One HTTP attempt at a delivery. Never raises: the outcome says what happened."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

import requests

USER_AGENT = "trainq-webhooks/1"


@dataclass
class Outcome:
    delivered: bool
    status_code: int | None = None
    error: str | None = None


def signature(secret: str, event_id: str, timestamp: str, body: str) -> str:
    """Standard Webhooks: v1,base64(HMAC-SHA256(secret, id.timestamp.body))."""
    digest = hmac.new(secret.encode(), f"{event_id}.{timestamp}.{body}".encode(), hashlib.sha256)
    return "v1," + base64.b64encode(digest.digest()).decode()


def send(session: requests.Session, url: str, event_id: str, payload: dict, *, timeout: float,
         secret: str = "") -> Outcome:
    body = json.dumps(payload, separators=(",", ":"))
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "webhook-id": event_id, "webhook-timestamp": timestamp}
    if secret:
        headers["webhook-signature"] = signature(secret, event_id, timestamp, body)
    try:
        # Redirects are not followed: a redirect could point the body at an internal address.
        response = session.post(url, data=body.encode(), headers=headers, timeout=timeout,
                                allow_redirects=False)
    except requests.RequestException as exc:
        return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:1000])
    return _judge(response)


def _judge(response: requests.Response) -> Outcome:
    if not 200 <= response.status_code < 300:
        return Outcome(False, response.status_code, f"HTTP {response.status_code}: "
                       f"{response.text[:300]}")
    try:
        answer = response.json()
    except ValueError:
        return Outcome(True, response.status_code)
    if isinstance(answer, dict) and answer.get("success") is False:
        return Outcome(False, response.status_code,
                       f"receiver answered success=false: {answer.get('msg')!r}"[:1000])
    return Outcome(True, response.status_code)
