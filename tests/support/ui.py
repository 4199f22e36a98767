"""The dashboard as a browser uses it, without a browser: its login form, the session cookie,
the page's CSRF token, and its event streams read as EventSource reads them."""
from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field

import requests

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


class UiSession:
    """A cookie session on the dashboard (requests keeps the cookies as a browser would)."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.trust_env = False

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.base_url + path, timeout=kwargs.pop("timeout", 15), **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.http.post(self.base_url + path, timeout=15, **kwargs)

    def login(self, username: str, password: str) -> requests.Response:
        form = self.get("/ui/login")
        token = FORM_TOKEN.search(form.text).group(1)
        return self.post("/ui/login", allow_redirects=False, data={
            "username": username, "password": password, "csrf_token": token})

    def csrf(self) -> str:
        return CSRF_META.search(self.get("/ui/").text).group(1)

    def post_api(self, path: str, csrf: str | None = "page") -> requests.Response:
        """A state-changing API call as the pages make it: cookie plus X-CSRF-Token."""
        headers = {} if csrf is None else {
            "X-CSRF-Token": self.csrf() if csrf == "page" else csrf}
        return self.post(path, headers=headers)

    def stream(self, path: str, last_event_id: str | None = None,
               read_timeout: float = 30) -> requests.Response:
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        return self.http.get(self.base_url + path, headers=headers, stream=True,
                             timeout=(5, read_timeout))

    def twin(self) -> "UiSession":
        """The same browser session on connections of its own (one per thread)."""
        other = UiSession(self.base_url)
        other.http.cookies.update(self.http.cookies)
        return other


@dataclass
class Event:
    name: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None
    comment: bool = False

    def json(self):
        return json.loads(self.data)


@dataclass
class EventReader:
    """Parses a text/event-stream response into events (comments included)."""
    response: requests.Response
    buffer: str = ""
    chunks: object = field(default=None)

    def __post_init__(self):
        self.chunks = self.response.iter_content(chunk_size=None, decode_unicode=True)

    def next(self) -> Event:
        while "\n\n" not in self.buffer:
            self.buffer += next(self.chunks)
        frame, self.buffer = self.buffer.split("\n\n", 1)
        return _parse(frame)

    def until(self, wanted, timeout: float = 20) -> list[Event]:
        """Events up to and including the first for which wanted(event) is true."""
        seen, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen.append(self.next())
            if wanted(seen[-1]):
                return seen
        raise AssertionError(f"no wanted event within {timeout}s: {[e.name for e in seen]}")


def _parse(frame: str) -> Event:
    event, data = Event(), []
    for line in frame.split("\n"):
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "":
            event.comment = True
        elif name == "event":
            event.name = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event.id = value
        elif name == "retry":
            event.retry = int(value)
    event.data = "\n".join(data)
    return event


def make_member(api, role: str | None, workspace_id: int = 1) -> tuple[str, str]:
    """A new user (username, password), a `role` member of the workspace (None: of none)."""
    username, password = f"ui-{role or 'outsider'}-{secrets.token_hex(3)}", secrets.token_hex(8)
    created = api.request("POST", "/api/v1/admin/users",
                          json={"username": username, "password": password, "is_admin": False})
    assert created.status_code == 201, created.text
    if role:
        user_id = created.json()["data"]["id"]
        added = api.request("PUT", f"/api/v1/admin/workspaces/{workspace_id}/members/{user_id}",
                            json={"role": role})
        assert added.status_code == 200, added.text
    return username, password
