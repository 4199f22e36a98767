"""A real HTTP server that plays the business system receiving trainq's webhooks."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


def verified(hook: dict, secret: str | bytes) -> dict:
    """The body of a recorded request as the business system's Standard Webhooks library reads
    it: the reference implementation, so a signing mistake cannot be repeated on both sides.
    Raises WebhookVerificationError when the signature does not match."""
    return Webhook(secret).verify(hook["raw"], hook["headers"])


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True  # a test restarts a receiver on the port it had
    daemon_threads = True  # shutting down never waits for a sender's idle connection


class WebhookReceiver:
    """Records every accepted request. `fail_with` makes it answer that HTTP status instead;
    `refuse_with_success_false` makes it answer 200 with {"success": false} (not delivered)."""

    def __init__(self, port: int = 0):
        self.requests: list[dict] = []
        self.refused: list[dict] = []
        self.fail_with: int | None = None
        self.refuse_with_success_false = False
        self.redirect_to: str | None = None  # Location sent with a 3xx fail_with
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", port), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()

    def for_task(self, task_id: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["body"].get("trainTaskId") == task_id]

    def wait_for(self, task_id: str, predicate, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.for_task(task_id)
            if predicate(got):
                return got
            time.sleep(0.05)
        raise AssertionError(f"webhooks for {task_id} never satisfied the wait; got {got}")

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                record = {"path": self.path, "headers": dict(self.headers),
                          "body": json.loads(body or b"{}"), "raw": body}
                status = receiver.fail_with
                accepted = status is None and not receiver.refuse_with_success_false
                with receiver.lock:
                    (receiver.requests if accepted else receiver.refused).append(record)
                answer = json.dumps({"success": accepted, "code": 0, "msg": "", "data": ""})
                self.send_response(status or 200)
                if receiver.redirect_to and status and 300 <= status < 400:
                    self.send_header("Location", receiver.redirect_to + self.path)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answer.encode())

            def log_message(self, *args):
                pass

        return Handler
