"""The -o table view of each thing the user commands show (json and yaml print the API's data)."""
from __future__ import annotations

from app.cli_admin import _HOST_COLUMNS, _host_cells
from app.cli_output import ago, columns, duration, pairs, size, when

JOB_HEADINGS = ["JOB ID", "NAME", "STATUS", "POOL", "GPU", "PRIORITY", "ATTEMPT", "CREATED"]


def job_page(data: dict) -> str:
    rows = [[job["job_id"], job["name"], job["status"], job["pool"], job["gpu"],
             job["priority"], job["attempt"], ago(job["created_at"])] for job in data["items"]]
    return columns(JOB_HEADINGS, rows) if rows else "no jobs"


def job_detail(job: dict) -> str:
    script = " ".join([job["script_path"], *job["args"]])
    resources = (f"cpu {job['cpu']}, memory {size(job['memory'])}, gpu {job['gpu']}"
                 + (f" × {job['instance_count']} hosts" if job["instance_count"] > 1 else ""))
    timeline = job["timeline"]
    head = pairs([
        ("job", f"{job['job_id']}  {job['name']}"), ("status", job["status"]),
        ("attempt", job["attempt"]), ("failure", job["failure_message"]),
        ("framework", f"{job['framework']} ({job['launcher']})"), ("script", script),
        ("resources", resources), ("pool", f"{job['pool']}, priority {job['priority']}"),
        ("workspace", job["workspace_id"]), ("external id", job["external_id"]),
        ("created", when(timeline["created"])), ("started", when(timeline["started"])),
        ("finished", when(timeline["finished"])), ("metrics", _metrics(job))])
    return "\n\n".join(part for part in (head, _attempts(job), _transitions(job)) if part)


def _metrics(job: dict) -> str | None:
    latest = job["latest_metrics"]
    if not latest:
        return None
    epochs = f"epoch {latest['epoch']}" + (f"/{latest['total_epochs']}"
                                           if latest["total_epochs"] else "")
    values = [f"{name} {latest[name]:.4g}" for name in
              ("loss", "accuracy", "val_loss", "val_accuracy", "f1_score")
              if latest[name] is not None]
    return "  ".join([epochs, *values])


def _attempts(job: dict) -> str:
    rows = [[attempt["number"], attempt["worker"] or "-", attempt["gpus"] or "-",
             _exit(attempt), attempt["message"] or ""] for attempt in job["attempts"]]
    return columns(["ATTEMPT", "HOST", "GPUS", "EXIT", "MESSAGE"], rows) if rows else ""


def _exit(attempt: dict) -> str:
    if attempt["exit_signal"]:
        return attempt["exit_signal"]
    return "-" if attempt["exit_code"] is None else str(attempt["exit_code"])


def _transitions(job: dict) -> str:
    rows = [[when(t["at"]), t["to_status"], t["message"] or ""] for t in job["transitions"]]
    return columns(["AT", "STATUS", "MESSAGE"], rows) if rows else ""


def queue_position(data: dict) -> str:
    ahead = data["ahead"]
    shown = ", ".join(ahead["ids"]) or "none"
    others = f" (and {ahead['others']} in workspaces you cannot see)" if ahead["others"] else ""
    eta = data["eta_basis"] if data["eta_seconds"] is None else \
        f"in about {duration(data['eta_seconds'])} ({data['eta_basis']})"
    return pairs([("pool", data["pool"]), ("position", data["position"]),
                  ("ahead", shown + others if data["position"] else None),
                  ("reason", data["reason"]), ("why", data["message"]), ("starts", eta)])


def hosts(items: list[dict]) -> str:
    """The same columns as `trainq workers list` (cli_admin), sized to their content."""
    rows = [_host_cells(host) for host in items]
    return columns([heading for heading, _ in _HOST_COLUMNS], rows) if rows else "no hosts"
