"""A small client of the trainq HTTP API, for the `trainq` user commands and the tests.

Each method answers the envelope's `data`; every failure is a ClientError whose message says
what to do, so callers print it and never a traceback."""
from __future__ import annotations

from typing import Any

import requests

JOBS = "/api/v1/training/jobs"
WORKERS = "/api/v1/admin/workers"
TOKEN = "/auth/token"
#: Long enough for a busy API on a small machine, short enough that a hung one is noticed.
TIMEOUT_SECONDS = 30
#: The most log lines GET …/logs answers at once (LogArgsSchema).
MAX_LOG_LINES = 10_000


class ClientError(Exception):
    """A request that did not work, with what to do about it; `status` is the HTTP status."""

    def __init__(self, message: str, status: int | None = None, errors: dict | None = None):
        super().__init__(message)
        self.message, self.status, self.errors = message, status, errors or {}

    def __str__(self) -> str:
        fields = "".join(f"\n  {name}: {_text(problem)}" for name, problem in self.errors.items())
        return self.message + fields


class _Bearer(requests.auth.AuthBase):
    # An auth object, not a header: requests would otherwise let a ~/.netrc entry replace it.
    def __init__(self, token: str):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class Client:
    def __init__(self, base_url: str, token: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        if token:
            self.http.auth = _Bearer(token)

    def login(self, username: str, password: str) -> dict:
        """{access_token, expires_in, token_type}; the token route answers without an envelope."""
        return self.send("POST", TOKEN, json={"username": username, "password": password})

    def logout(self) -> None:
        """Revoke this client's token on the server."""
        self.send("POST", "/auth/logout")

    def submit(self, body: dict) -> dict:
        return self.call("POST", JOBS, json=body)

    def jobs(self, **filters) -> dict:
        params = {name: value for name, value in filters.items() if value is not None}
        return self.call("GET", JOBS, params=params)

    def job(self, job_id: str) -> dict:
        return self.call("GET", f"{JOBS}/{job_id}")

    def stop(self, job_id: str) -> dict:
        """The whole envelope: its message says whether the job is cancelled or stopping."""
        return self.send("POST", f"{JOBS}/{job_id}/stop")

    def delete(self, job_id: str) -> None:
        self.send("DELETE", f"{JOBS}/{job_id}")

    def logs(self, job_id: str, lines: int) -> dict:
        return self.call("GET", f"{JOBS}/{job_id}/logs", params={"lines": lines})

    def queue(self, job_id: str) -> dict:
        return self.call("GET", f"{JOBS}/{job_id}/queue")

    def workers(self) -> list[dict]:
        hosts, page = [], 1
        while True:
            data = self.call("GET", WORKERS, params={"page": page, "page_size": 100})
            hosts += data["items"]
            if page >= data["pagination"]["total_pages"]:
                return hosts
            page += 1

    def drain(self, name: str, draining: bool = True) -> dict:
        """The whole envelope, with the host as its data."""
        return self.send("POST", f"{WORKERS}/{name}/{'drain' if draining else 'undrain'}")

    def call(self, method: str, path: str, **kwargs) -> Any:
        """The `data` of an enveloped answer."""
        return self.send(method, path, **kwargs)["data"]

    def send(self, method: str, path: str, **kwargs) -> Any:
        """The decoded answer (None for a 204)."""
        url = self.base_url + path
        try:
            response = self.http.request(method, url, timeout=TIMEOUT_SECONDS, **kwargs)
        except requests.ConnectionError as exc:
            raise ClientError(f"cannot reach the trainq API at {self.base_url} "
                              f"({_reason(exc)}); is it running there? Set TRAINQ_URL or run "
                              f"`trainq login URL` to use another address") from None
        except requests.Timeout:
            raise ClientError(f"the trainq API at {self.base_url} did not answer within "
                              f"{TIMEOUT_SECONDS} s; try again, or check the server") from None
        if response.status_code >= 400:
            raise _error(response, path, self.base_url)
        return response.json() if response.content else None


def _error(response: requests.Response, path: str, base_url: str) -> ClientError:
    """The API's error envelope as a ClientError; a 401 outside the login says to log in."""
    status = response.status_code
    try:
        body = response.json()
        message, errors = body["message"], body.get("errors")
    except (ValueError, KeyError, TypeError):  # a proxy's page, not trainq's envelope
        message, errors = f"the server at {base_url} answered {status} {response.reason}", None
    if status == 401 and path != TOKEN:
        message = f"{message}; run `trainq login {base_url}` (or set TRAINQ_TOKEN)"
    if status == 429 and response.headers.get("Retry-After"):
        message = f"{message} (retry after {response.headers['Retry-After']} s)"
    return ClientError(message, status, errors)


def _reason(exc: requests.ConnectionError) -> str:
    text = str(exc)
    for needle, reason in (("refused", "connection refused"), ("Name or service", "unknown host"),
                           ("resolve", "unknown host"), ("timed out", "connection timed out")):
        if needle in text:
            return reason
    return "connection failed"


def _text(problem) -> str:
    if isinstance(problem, list):
        return "; ".join(_text(item) for item in problem)
    if isinstance(problem, dict):
        return "; ".join(f"{key}: {_text(value)}" for key, value in problem.items())
    return str(problem)
