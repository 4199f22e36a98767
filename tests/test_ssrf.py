"""Webhook SSRF guard: the research notes' vector list (W6), refused when a job is submitted and
again when each webhook is sent; nothing ever connects to a loopback canary."""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
import uuid

import pytest

from app import create_app
from app.db import Database
from app.models import Job, WebhookDelivery
from app.models.base import utcnow
from app.runtime import Runtime
from app.schema import upgrade
from app.webhooks import address
from app.webhooks.address import AddressRefused, check_url
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.sender import send
from app.webhooks.transport import GuardedAdapter, guarded_session
from tests.conftest import ADMIN_PASSWORD
from tests.support.client import VALID_JOB
from tests.support.databases import fresh_database

LOOPBACK = ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "localhost",
            "[::1]", "[::ffff:127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]",
            "[::127.0.0.1]", "127.0.0.1.", "017700000001"]
LINK_LOCAL_METADATA_UNSPECIFIED = ["169.254.169.254", "[fe80::1]", "0.0.0.0", "[::]",
                                   "[::ffff:169.254.169.254]"]
PRIVATE_AND_RESERVED = ["100.64.0.1", "10.0.0.1", "10.255.255.255", "172.16.0.1",
                        "172.31.255.254", "192.168.0.1", "[fd00::1]", "[fc00::1]", "224.0.0.1",
                        "[ff02::1]", "255.255.255.255", "192.0.2.1", "198.18.0.1",
                        "[2001:0:4136:e378:8000:63bf:3fff:fdd2]", "[64:ff9b::a00:1]"]
BAD_FORMS = ["file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "ftp://example.com/",
             "http://user:secret@example.com/", "http://example.com@127.0.0.1/",
             "http://:80/", "dict://127.0.0.1:6379/"]
PUBLIC = ["8.8.8.8", "1.1.1.1", "[2606:4700:4700::1111]", "[::ffff:8.8.8.8]"]


@pytest.mark.parametrize("host", LOOPBACK + LINK_LOCAL_METADATA_UNSPECIFIED + PRIVATE_AND_RESERVED)
def test_non_public_addresses_are_refused(host):
    with pytest.raises(AddressRefused):
        check_url(f"http://{host}:8080/hook")


@pytest.mark.parametrize("url", BAD_FORMS)
def test_other_schemes_and_credentials_are_refused(url):
    with pytest.raises(AddressRefused):
        check_url(url)


@pytest.mark.parametrize("host", PUBLIC)
def test_public_addresses_are_accepted(host):
    assert check_url(f"https://{host}/hook")


def test_an_operator_allowed_range_opens_that_range_only():
    allow = (ipaddress.ip_network("10.20.0.0/16"), ipaddress.ip_network("127.0.0.0/8"))
    assert check_url("http://10.20.3.4/", allow)
    assert check_url("http://127.0.0.1/", allow) and check_url("http://[::ffff:127.0.0.1]/", allow)
    for refused in ("http://10.21.0.1/", "http://169.254.169.254/", "http://[::1]/",
                    "http://127.1/", "http://2130706433/"):  # odd spellings never pass
        with pytest.raises(AddressRefused):
            check_url(refused, allow)


@pytest.fixture
def canary():
    """A loopback listener that must never see a connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    seen = []

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                seen.append(conn)
                conn.close()
            except OSError:
                pass

    stop = threading.Event()
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], seen
    stop.set()
    thread.join()
    server.close()


def test_send_time_check_refuses_and_never_connects(canary):
    port, seen = canary
    outcome = send(guarded_session(), f"http://127.0.0.1:{port}/api/x", "evt_1", {}, timeout=2)
    assert not outcome.delivered and "loopback" in outcome.error and "not sent" in outcome.error
    time.sleep(0.3)
    assert seen == []


def test_dns_rebinding_is_caught_at_send_time(canary, monkeypatch):
    """Public when the job is submitted, loopback when the webhook goes out."""
    port, seen = canary
    answers = iter([[ipaddress.ip_address("93.184.216.34")], [ipaddress.ip_address("127.0.0.1")]])
    monkeypatch.setattr(address, "resolve", lambda host, port: next(answers))
    url = f"http://rebind.example:{port}/hook"
    assert check_url(url)  # what the API saw
    outcome = send(guarded_session(), url, "evt_2", {}, timeout=2)
    assert not outcome.delivered and "resolves to 127.0.0.1" in outcome.error
    time.sleep(0.3)
    assert seen == []


def test_the_connection_goes_to_the_address_that_was_checked(receiver, monkeypatch):
    """The transport connects to the checked address itself, not to a second DNS answer."""
    port = int(receiver.url.rsplit(":", 1)[1])
    monkeypatch.setattr(address, "resolve", lambda host, p: [ipaddress.ip_address("127.0.0.1")])
    session = guarded_session([ipaddress.ip_network("127.0.0.0/8")])
    task = f"pinned-{uuid.uuid4().hex[:6]}"
    outcome = send(session, f"http://receiver.invalid:{port}/hook", "evt_3",
                   {"trainTaskId": task}, timeout=5)
    assert outcome.delivered, outcome.error
    assert receiver.for_task(task)[0]["headers"]["Host"] == f"receiver.invalid:{port}"


def test_a_redirect_to_loopback_is_not_followed(canary):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    port, seen = canary

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{port}/stolen")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        session = guarded_session([ipaddress.ip_network("127.0.0.1/32")])
        outcome = send(session, f"http://127.0.0.1:{server.server_address[1]}/", "evt_4", {},
                       timeout=2)
    finally:
        server.shutdown()
    assert not outcome.delivered and outcome.status_code == 302
    time.sleep(0.3)
    assert seen == []


@pytest.mark.parametrize("host", ["169.254.169.254", "10.0.0.1", "[fd00::1]", "100.64.0.1",
                                  "0.0.0.0", "127.1", "2130706433", "[::ffff:10.0.0.1]",
                                  "no-such-host.invalid"])
def test_the_api_refuses_a_forbidden_notify_url(api, host):
    response = api.submit(notify_url=f"http://{host}/", pool="idle", gpu=0)
    assert response.status_code == 400, response.text
    assert response.json()["errors"]["notify_url"]


@pytest.mark.parametrize("url", BAD_FORMS)
def test_the_api_refuses_other_schemes_and_credentials(api, url):
    response = api.submit(notify_url=url, pool="idle", gpu=0)
    assert response.status_code == 400 and response.json()["errors"]["notify_url"]


def test_without_an_allowed_range_loopback_is_refused(settings, migrated, receiver):
    """The test stack allows 127.0.0.0/8 for its receivers; a deployment that does not set
    TRAINQ_NOTIFY_ALLOW_CIDRS refuses them."""
    client = create_app(settings.with_changes(notify_allow_cidrs=())).test_client()
    token = client.post("/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}
                        ).get_json()["access_token"]
    response = client.post("/api/v1/training/jobs", headers={"Authorization": f"Bearer {token}"},
                           json={**VALID_JOB, "notify_url": receiver.url})
    assert response.status_code == 400
    assert "loopback" in response.get_json()["errors"]["notify_url"][0]


def test_a_refused_delivery_is_a_failed_attempt_with_a_clear_error(settings, tmp_path, canary):
    """Also TRAINQ_NOTIFY_URL (operator config) goes through the send-time check."""
    port, seen = canary
    with fresh_database(tmp_path) as url:
        database = Database(url)
        upgrade(database)
        with database.write() as session:
            session.add(Job(id="job-ssrf", name="s", framework="pytorch", script_path="x.py",
                            cpu=1, memory=1, gpu=0, priority=5, pool="cpu", queue="q",
                            status="queued", attempt=1, args=[], envs={}, created_at=utcnow(),
                            workspace_id=1))
            session.flush()
            session.add(WebhookDelivery(event_id="evt_ssrf", job_id="job-ssrf", kind="status",
                                        url=f"http://127.0.0.1:{port}/x", payload={}))
        runtime = Runtime(settings.with_changes(database_url=url, notify_allow_cidrs=()))
        dispatcher = Dispatcher(runtime)
        assert isinstance(dispatcher.http.get_adapter("http://x/"), GuardedAdapter)
        assert dispatcher.step() == 1
        dispatcher.pool.shutdown(wait=True)
        with database.read() as session:
            row = session.query(WebhookDelivery).filter_by(event_id="evt_ssrf").one()
            assert row.attempts == 1 and row.state == "pending"
            assert "not sent" in row.last_error and "loopback" in row.last_error
        runtime.close()
        database.dispose()
    assert seen == []
