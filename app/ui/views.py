"""The dashboard's routes: sign-in, three HTML pages, and their event streams.

Pages are HTML shells; their data comes from the streams (app/ui/streams.py), and what they
change goes through the JSON API (stop, redeliver, drain), authenticated by the session cookie
and its CSRF token (app/api/security.py). Access is decided where the API decides it: a job
page or stream asks security.authorize_job first, like every job route of the API.
"""
from __future__ import annotations

from flask import Response, current_app, g, redirect, render_template, request, url_for

from app.api.security import authorize_job, require_user
from app.domain.status import STATUS_WORDS, parse_status
from app.errors import InvalidInput, TooManyRequests, Unauthorized
from app.models.base import utcnow
from app.services import job_queries
from app.services.auth import check_credentials, issue_token, revoke_token
from app.services.login_limit import LoginLimiter
from app.ui import read_model, session as cookies
from app.ui.blueprint import blp
from app.ui.clusterview import cluster_state
from app.ui.job_feed import JobFeed
from app.ui.streams import SnapshotFeed, event_stream, last_event_id

PUBLIC_ENDPOINTS = {"ui.login", "ui.login_submit", "ui.static"}
#: How often the whole-view streams rebuild their view: the jobs list is up to 200 rows with
#: their metrics; the cluster asks Redis for every host and queued job. A job page polls
#: every streams.IDLE_WAIT_SECONDS: it only reads what is newer than its cursor.
LIST_POLL_SECONDS = 2.0
CLUSTER_POLL_SECONDS = 1.0


def _runtime():
    return current_app.extensions["trainq"]


@blp.before_request
def _signed_in():
    if request.endpoint not in PUBLIC_ENDPOINTS:
        require_user()


@blp.app_template_global()
def csrf_token() -> str:
    claims = g.get("token_claims")
    return cookies.csrf_token(_runtime().settings.secret_key, claims) if claims else ""


@blp.route("/login", methods=["GET"])
def login():
    return _login_form()


@blp.route("/login", methods=["POST"])
def login_submit():
    cookies.check_login_csrf(request.cookies.get(cookies.LOGIN_CSRF_COOKIE),
                             request.form.get(cookies.CSRF_FIELD))
    username, password = request.form.get("username", ""), request.form.get("password", "")
    runtime, client = _runtime(), request.remote_addr or ""
    limiter = LoginLimiter(runtime.redis, runtime.settings)
    try:
        limiter.check(username, client)
        with runtime.db.read() as session:
            try:
                user = check_credentials(session, username, password)
            except Unauthorized:
                limiter.failed(username, client)
                raise
    except (Unauthorized, TooManyRequests) as exc:
        return _login_form(exc.message, username, exc.status)
    limiter.succeeded(username)
    token = issue_token(user, runtime.settings.secret_key, runtime.settings.token_ttl_seconds)
    response = redirect(_safe_next(request.args.get("next")))
    response.set_cookie(cookies.SESSION_COOKIE, token["access_token"],
                        **cookies.cookie_options(request.is_secure, token["expires_in"]))
    response.delete_cookie(cookies.LOGIN_CSRF_COOKIE, path="/")
    return response


@blp.route("/logout", methods=["POST"])
def logout():
    # require_user checked the form's CSRF token: a cross-site form cannot sign anyone out.
    with _runtime().db.write() as session:
        revoke_token(session, g.token_claims)
    response = redirect(url_for("ui.login"))
    response.delete_cookie(cookies.SESSION_COOKIE, path="/")
    return response


@blp.route("/", methods=["GET"])
def jobs():
    with _runtime().db.read() as session:
        workspaces = read_model.workspaces_of(session, g.user)
    return _page("jobs.html", statuses=STATUS_WORDS, workspaces=workspaces)


@blp.route("/jobs/<job_id>", methods=["GET"])
def job(job_id):
    authorize_job(job_id)
    with _runtime().db.read() as session:
        name = job_queries.get_job(session, job_id).name
    return _page("job.html", job_id=job_id, job_name=name)


@blp.route("/cluster", methods=["GET"])
def cluster():
    return _page("cluster.html")


@blp.route("/stream/jobs", methods=["GET"])
def jobs_stream():
    status, workspace_id = _list_filters()
    user = g.user
    feed = SnapshotFeed("jobs", lambda session: {
        **read_model.job_rows(session, user, status, workspace_id),
        "now": read_model.iso(utcnow())},
        last_event_id(request), LIST_POLL_SECONDS)
    return _stream(feed)


@blp.route("/stream/jobs/<job_id>", methods=["GET"])
def job_stream(job_id):
    authorize_job(job_id)  # and again at every poll of the feed
    return _stream(JobFeed(_runtime(), g.user, job_id, last_event_id(request)))


@blp.route("/stream/cluster", methods=["GET"])
def cluster_stream():
    user, runtime = g.user, _runtime()
    feed = SnapshotFeed("cluster", lambda session: cluster_state(runtime, session, user),
                        last_event_id(request), CLUSTER_POLL_SECONDS)
    return _stream(feed)


def _stream(feed) -> Response:
    # Not stream_with_context: the chunks are made on other threads than the request's (a
    # context variable set on one is unset on the next), so the feed carries all it needs.
    body = event_stream(_runtime().db.read, feed, request.environ)
    return Response(body, mimetype="text/event-stream", headers={
        "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _page(template: str, **context) -> str:
    return render_template(template, user=g.user, **context)


def _login_form(error: str | None = None, username: str = "", status: int = 200):
    token = cookies.new_login_csrf()
    response = current_app.make_response((render_template(
        "login.html", error=error, username=username, login_csrf=token,
        next=_safe_next(request.args.get("next"))), status))
    response.set_cookie(cookies.LOGIN_CSRF_COOKIE, token,
                        **cookies.cookie_options(request.is_secure, 3600))
    return response


def _safe_next(target: str | None) -> str:
    """Back to the page that asked for a login, never off this site."""
    if target and target.startswith("/ui/") and not target.startswith("//") \
            and "\\" not in target:
        return target
    return url_for("ui.jobs")


def _list_filters():
    try:
        status = parse_status(request.args["status"]) if request.args.get("status") else None
    except ValueError as exc:
        raise InvalidInput(errors={"status": [str(exc)]}) from None
    workspace = request.args.get("workspace_id") or None
    if workspace is not None and not workspace.isdigit():
        raise InvalidInput(errors={"workspace_id": ["must be a whole number"]})
    return status, int(workspace) if workspace else None
