"""The dashboard's server side against the real stack (gunicorn with the API's worker): login,
the cookie session and its CSRF token, access as in the API, and the event streams (resume
with Last-Event-ID; other requests answered while many streams are open)."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import ADMIN_PASSWORD
from tests.faults.conftest import wait_until
from tests.support.ui import EventReader, UiSession, make_member

pytestmark = pytest.mark.e2e
#: A pool no host serves (TRAINQ_POOLS in conftest): a job there stays queued.
IDLE = {"gpu": 2, "pool": "idle"}


@pytest.fixture
def admin_ui(stack) -> UiSession:
    ui = UiSession(stack["base_url"])
    assert ui.login("admin", ADMIN_PASSWORD).status_code == 302
    return ui


@pytest.fixture
def queued_job(api):
    job_id = api.submit_ok(name="ui-queued", **IDLE)
    yield job_id
    api.request("POST", f"/api/v1/training/jobs/{job_id}/stop")


def test_signed_out_pages_go_to_the_login_form_and_streams_answer_401(stack):
    ui = UiSession(stack["base_url"])
    page = ui.get("/ui/cluster", allow_redirects=False)
    assert page.status_code == 302 and page.headers["Location"].endswith(
        "/ui/login?next=/ui/cluster")
    assert ui.stream("/ui/stream/jobs").status_code == 401


def test_wrong_password_shows_the_form_again_without_a_session(stack):
    ui = UiSession(stack["base_url"])
    answer = ui.login("admin", "not-the-password")
    assert answer.status_code == 401 and "wrong username or password" in answer.text
    assert "trainq_session" not in ui.http.cookies
    assert ui.get("/ui/", allow_redirects=False).status_code == 302


def test_the_login_form_needs_its_own_csrf_token(stack):
    ui = UiSession(stack["base_url"])
    ui.get("/ui/login")
    answer = ui.post("/ui/login", allow_redirects=False,
                     data={"username": "admin", "password": ADMIN_PASSWORD})
    assert answer.status_code == 403 and "trainq_session" not in ui.http.cookies


def test_session_cookie_is_httponly_and_samesite(stack):
    answer = UiSession(stack["base_url"]).login("admin", ADMIN_PASSWORD)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/ui/")
    cookie = next(c for c in answer.raw.headers.getlist("Set-Cookie")
                  if c.startswith("trainq_session=")).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "max-age=" in cookie and "secure" not in cookie  # plain HTTP here


def test_a_cookie_request_that_changes_something_needs_the_csrf_token(admin_ui, queued_job):
    stop = f"/api/v1/training/jobs/{queued_job}/stop"
    refused = admin_ui.post_api(stop, csrf=None)
    assert refused.status_code == 403 and "CSRF" in refused.json()["message"]
    assert admin_ui.post_api(stop, csrf="forged").status_code == 403
    assert admin_ui.get(f"/api/v1/training/jobs/{queued_job}").json()["data"]["status"] == "queued"
    stopped = admin_ui.post_api(stop)
    assert stopped.status_code == 200 and stopped.json()["data"]["status"] == "cancelled"


def test_bearer_requests_need_no_csrf_token_and_ignore_the_cookie(api, admin_ui, queued_job):
    # A header is judged alone: a wrong token with a valid cookie is still a 401.
    headers = {"Authorization": "Bearer not-a-token"}
    assert admin_ui.post(f"/api/v1/training/jobs/{queued_job}/stop",
                         headers=headers).status_code == 401
    assert api.request("POST", f"/api/v1/training/jobs/{queued_job}/stop").status_code == 200


def test_a_viewer_sees_the_job_but_cannot_stop_it(stack, api, queued_job):
    viewer = UiSession(stack["base_url"])
    assert viewer.login(*make_member(api, "viewer")).status_code == 302
    assert viewer.get(f"/ui/jobs/{queued_job}").status_code == 200
    state = EventReader(viewer.stream(f"/ui/stream/jobs/{queued_job}")).until(
        lambda e: e.name == "state")[-1].json()
    assert state["role"] == "viewer" and state["status"] == "queued"
    refused = viewer.post_api(f"/api/v1/training/jobs/{queued_job}/stop")
    assert refused.status_code == 403 and "manager role" in refused.json()["message"]
    assert api.job(queued_job)["status"] == "queued"


def test_an_outsider_finds_no_such_job(stack, api, queued_job):
    outsider = UiSession(stack["base_url"])
    assert outsider.login(*make_member(api, None)).status_code == 302
    page = outsider.get(f"/ui/jobs/{queued_job}")
    assert page.status_code == 404 and "no training job" in page.text
    assert outsider.stream(f"/ui/stream/jobs/{queued_job}").status_code == 404
    listing = EventReader(outsider.stream("/ui/stream/jobs")).until(lambda e: e.name == "jobs")
    assert queued_job not in listing[-1].data


def test_logout_ends_the_session_and_its_token(admin_ui):
    csrf = admin_ui.csrf()
    token = admin_ui.http.cookies["trainq_session"]
    assert admin_ui.post("/ui/logout", data={"csrf_token": "wrong"},
                         allow_redirects=False).status_code == 403
    out = admin_ui.post("/ui/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.status_code == 302 and "trainq_session" not in admin_ui.http.cookies
    replayed = requests.get(admin_ui.base_url + "/api/v1/me", cookies={"trainq_session": token},
                            timeout=10)
    assert replayed.status_code == 401


def test_job_stream_resumes_after_the_last_event_id(admin_ui, api):
    job_id = api.submit_ok(name="ui-resume", script_path="mixed_metrics.py")
    api.wait_terminal(job_id)
    wait_until(lambda: {d["state"] for d in api.request(
        "GET", f"/api/v1/training/jobs/{job_id}/webhooks").json()["data"]["deliveries"]}
        == {"delivered"})  # the job page's last change
    first = EventReader(admin_ui.stream(f"/ui/stream/jobs/{job_id}"))
    assert first.next().retry == 1000
    events = first.until(lambda e: e.id is not None)
    first.response.close()
    by_name = {e.name: e for e in events}
    assert [m["epoch"] for m in by_name["metrics"].json()] == [1, 2]
    assert "plain line" in by_name["logs"].data and by_name["state"].json()["status"] == "completed"
    # Resume as if the connection dropped after epoch 1 and the first log line.
    log_id = by_name["logs"].json()[0]["id"]
    state_mark, deliveries_mark = events[-1].id.split(".")[2:]
    resumed = EventReader(admin_ui.stream(f"/ui/stream/jobs/{job_id}",
                                          f"1:1.{log_id}.{state_mark}.{deliveries_mark}"))
    again = resumed.until(lambda e: e.id is not None)
    resumed.response.close()
    names = [e.name for e in again if not e.comment and e.retry is None]
    assert names == ["metrics", "logs"]  # state and deliveries unchanged: not sent again
    assert [m["epoch"] for m in again[-2].json()] == [2]
    assert all(line["id"] > log_id for line in again[-1].json())
    # Fully caught up: nothing but keep-alive comments until something changes.
    caught_up = EventReader(admin_ui.stream(f"/ui/stream/jobs/{job_id}", events[-1].id,
                                            read_timeout=3))
    assert caught_up.next().retry == 1000
    with pytest.raises(requests.ConnectionError):  # 3 s of silence: nothing new was sent
        caught_up.next()
    caught_up.response.close()


def test_jobs_stream_sends_the_list_again_only_when_it_changes(admin_ui, api, queued_job):
    reader = EventReader(admin_ui.stream("/ui/stream/jobs?status=queued"))
    first = reader.until(lambda e: e.name == "jobs")[-1]
    jobs = first.json()["jobs"]
    assert queued_job in {j["id"] for j in jobs} and {j["status"] for j in jobs} == {"queued"}
    api.request("POST", f"/api/v1/training/jobs/{queued_job}/stop")
    second = reader.until(lambda e: e.name == "jobs")[-1]
    reader.response.close()
    assert second.id != first.id and queued_job not in {j["id"] for j in second.json()["jobs"]}


def test_other_requests_are_answered_while_many_streams_are_open(stack, admin_ui, settings):
    """More open streams than the API has request threads in all its workers."""
    count = 2 * settings.api_threads + 8
    opened = threading.Barrier(count + 1, timeout=60)
    release = threading.Event()

    def hold_stream(_):
        reader = EventReader(admin_ui.twin().stream("/ui/stream/cluster"))
        event = reader.until(lambda e: e.name == "cluster")[-1]
        opened.wait()
        release.wait(60)
        reader.response.close()
        return event.name

    with ThreadPoolExecutor(count) as pool:
        held = [pool.submit(hold_stream, n) for n in range(count)]
        opened.wait()
        try:
            timings = []
            for _ in range(10):
                started = time.monotonic()
                me = admin_ui.get("/api/v1/me", timeout=5)
                timings.append(time.monotonic() - started)
                assert me.status_code == 200
            assert requests.get(stack["base_url"] + "/healthz", timeout=5).status_code == 200
        finally:
            release.set()
        assert [f.result() for f in held] == ["cluster"] * count
    assert max(timings) < 2, timings


def test_pages_render_with_their_scripts_and_strict_headers(admin_ui, queued_job):
    for path in ("/ui/", f"/ui/jobs/{queued_job}", "/ui/cluster"):
        page = admin_ui.get(path)
        assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        assert page.headers["X-Frame-Options"] == "DENY"
    job_page = admin_ui.get(f"/ui/jobs/{queued_job}").text
    assert "vendor/uplot/uPlot.iife.min.js" in job_page  # vendored: no CDN
    assert 'src="http' not in job_page and 'href="http' not in job_page
    assert admin_ui.get("/ui/static/vendor/uplot/uPlot.iife.min.js").status_code == 200
