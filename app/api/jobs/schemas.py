"""Request and response bodies of the training-job API."""
from __future__ import annotations

import re

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from app.api.base import PaginationSchema, StrictBool, StrictInt, StrictSchema, UtcDateTime
from app.domain.status import STATUS_WORDS, parse_status
from app.services import keyset
from app.services.queue_position import REASONS
from app.services.batch import BATCH_ID
from app.services.steps import DEFAULT_POINTS, MAX_POINTS
from app.webhooks.address import AddressRefused, check_url_form
from config.protocol import DEFAULT_ENV, ENV_ID_PATTERN, Launcher
from config.queues import DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
RESERVED_ENV = ("TRAINQ_", "CUDA_VISIBLE_DEVICES")
MAX_ID = 2**53 - 1  # largest integer a JavaScript front-end reads exactly
#: Most hosts one job spans (seed 004 allows more; 64 hosts is beyond any pool trainq serves).
MAX_INSTANCES = 64


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("must not be blank")


class JobCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=[validate.Length(1, 200), _not_blank])
    description = fields.String(allow_none=True, validate=validate.Length(max=4000))
    workspace_id = StrictInt(allow_none=True, validate=validate.Range(1, MAX_ID))
    framework = fields.String(required=True, validate=validate.OneOf(
        ["pytorch", "tensorflow"], error="must be one of: pytorch, tensorflow"))
    script_path = fields.String(required=True, validate=validate.Length(1, 1024))
    dataset_id = StrictInt(allow_none=True, validate=validate.Range(1, MAX_ID))
    cpu = StrictInt(required=True, validate=validate.Range(1, 1024, error="must be 1 to 1024 cores"))
    memory = StrictInt(required=True, validate=validate.Range(
        1, 2**50, error="must be a number of bytes greater than 0 (e.g. 8589934592 for 8 GiB)"))
    gpu = StrictInt(required=True, validate=validate.Range(0, 1024, error="must be 0 or more"))
    priority = StrictInt(load_default=DEFAULT_PRIORITY, validate=validate.Range(
        MIN_PRIORITY, MAX_PRIORITY, error="must be 0 to 10 (10 runs first)"))
    args = fields.List(fields.String(validate=validate.Length(max=4096)),
                       load_default=list, validate=validate.Length(max=256))
    envs = fields.Dict(keys=fields.String(), values=fields.String(validate=validate.Length(max=8192)),
                       load_default=dict, validate=validate.Length(max=128))
    pool = fields.String(allow_none=True, validate=validate.Length(1, 32))
    max_running_time_ms = StrictInt(allow_none=True, validate=validate.Range(
        1000, 366 * 24 * 3600 * 1000, error="must be 1000 ms to 366 days"))
    notify_url = fields.URL(allow_none=True, schemes={"http", "https"}, require_tld=False,
                            validate=validate.Length(max=2048))
    external_id = fields.String(allow_none=True, validate=validate.Length(1, 200))
    auto_fault_tolerance = StrictBool(metadata={
        "description": "retry as a new attempt when the worker is lost (default true)"})
    fault_tolerance_max_retry = StrictInt(validate=validate.Range(
        0, 20, error="must be 0 to 20 retries"))
    fault_tolerance_retry_interval_sec = StrictInt(validate=validate.Range(
        0, 86400, error="must be 0 to 86400 seconds"))
    launcher = fields.String(validate=validate.OneOf(
        [str(launcher) for launcher in Launcher],
        error="must be 'python' (python <script>) or 'torchrun' (nproc_per_node processes)"),
        metadata={"description": "how the script is started: python (default) or torchrun, "
                                 "which runs nproc_per_node processes with RANK, LOCAL_RANK, "
                                 "WORLD_SIZE, MASTER_ADDR and MASTER_PORT set"})
    nproc_per_node = StrictInt(allow_none=True, validate=validate.Range(
        1, 64, error="must be 1 to 64 processes"), metadata={
        "description": "torchrun's processes per instance (default: its GPUs, or 1 without)"})
    instance_count = StrictInt(validate=validate.Range(
        1, MAX_INSTANCES, error=f"must be 1 to {MAX_INSTANCES} instances"), metadata={
        "description": "instances started at once on as many hosts of the pool, each with `gpu` "
                       "GPUs, or none (default 1). PyTorch runs each under torchrun (static "
                       "rendezvous at rank 0's host), TensorFlow gets TF_CONFIG"})
    env_id = fields.String(allow_none=True, validate=validate.Regexp(
        ENV_ID_PATTERN, error="must be a runtime environment name: letters, digits, '.', '_' "
                              "and '-', starting with a letter or digit, at most 64"), metadata={
        "description": "the runtime environment (a python a worker host declares with "
                       "`trainq worker --env NAME=PATH`) to run it with; it is placed only on "
                       f"hosts that declare it (default: {DEFAULT_ENV!r}, the worker's own)"})
    preemptible = StrictBool(metadata={
        "description": "a job of strictly higher priority that has waited "
                       "TRAINQ_PREEMPT_AFTER_SECONDS may stop it (SIGTERM, a grace period to "
                       "checkpoint) and send it back to the queue with its retry budget untouched "
                       "(default true)"})

    @validates("notify_url")
    def _check_notify_url(self, url: str | None, **_kwargs) -> None:
        # The address it resolves to is checked by the service (and again at each send).
        if url is not None:
            try:
                check_url_form(url)
            except AddressRefused as exc:
                raise ValidationError(str(exc)) from None

    @validates("envs")
    def _check_envs(self, envs: dict, **_kwargs) -> None:
        for name in envs:
            if not _ENV_NAME.match(name):
                raise ValidationError(f"{name!r} is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)")
            if name.startswith(RESERVED_ENV):
                raise ValidationError(f"{name!r} is set by trainq and cannot be overridden")

    @validates_schema
    def _check_launcher(self, data: dict, **_kwargs) -> None:
        torchrun = data.get("launcher") == Launcher.TORCHRUN
        if data.get("nproc_per_node") is not None and not torchrun:
            raise ValidationError("nproc_per_node needs \"launcher\": \"torchrun\"",
                                  "nproc_per_node")
        if torchrun and data.get("framework") == "tensorflow":
            raise ValidationError("torchrun launches PyTorch; a TensorFlow job runs with "
                                  "\"launcher\": \"python\"", "launcher")
        gang = data.get("instance_count", 1) > 1
        if gang and data.get("framework") == "pytorch" and data.get("launcher") == "python":
            raise ValidationError("the instances of a multi-host PyTorch job run under torchrun; "
                                  "leave launcher out or set it to \"torchrun\"", "launcher")


class StatusFilterSchema(StrictSchema):
    """?status= of a listing (jobs, runs)."""

    # Declared as an enum so clients and schema checkers know the words; parse_status (the one
    # decision) still validates, and also forgives case and surrounding spaces.
    status = fields.String(metadata={"enum": list(STATUS_WORDS), "description": (
        "a status, or another platform's word for it; case and surrounding spaces do not matter")})

    @validates("status")
    def _check_status(self, value: str, **_kwargs) -> None:
        try:
            parse_status(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class CursorField(fields.String):
    """An opaque keyset cursor (services.keyset), loaded as the position it stands for."""

    def _deserialize(self, value, attr, data, **kwargs) -> keyset.Position:
        try:
            return keyset.decode(super()._deserialize(value, attr, data, **kwargs))
        except keyset.CursorError as exc:
            raise ValidationError(str(exc)) from None


class JobListArgsSchema(StatusFilterSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 1_000_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(1, 100))
    cursor = CursorField(metadata={"pattern": r"^[A-Za-z0-9_-]{1,512}$", "description": (
        "next_cursor of the previous page: the page after it, as fast however deep (no total); "
        "with the same filters; not with page. Leave it out for the first page")})
    workspace_id = fields.Integer(validate=validate.Range(1, MAX_ID))
    batch_id = fields.String(validate=validate.Regexp(BATCH_ID, error=(
        "must be a batch id as POST /api/v1/training/jobs/batch returned it, e.g. "
        "batch-0123456789abcdef")), metadata={
        "description": "the jobs of one POST /api/v1/training/jobs/batch"})

    @validates_schema(pass_original=True)
    def _one_way_to_page(self, _data: dict, original: dict, **_kwargs) -> None:
        if "cursor" in original and "page" in original:
            raise ValidationError("a cursor already says where the page starts; send either "
                                  "page (numbered pages) or cursor (next_cursor), not both", "page")


class LogArgsSchema(StrictSchema):
    lines = fields.Integer(load_default=100, validate=validate.Range(1, 10_000))


class MetricsArgsSchema(StrictSchema):
    points = fields.Integer(load_default=DEFAULT_POINTS, validate=validate.Range(
        1, MAX_POINTS, error=f"must be 1 to {MAX_POINTS:,} points; a chart needs about one per "
                             f"pixel of its width (default {DEFAULT_POINTS:,})"), metadata={
        "description": "the most steps returned: every step when the job has at most this many, "
                       "else the first step and the last of each of points - 1 equal ranges"})


class JobSummarySchema(StrictSchema):
    job_id = fields.String(attribute="id")
    name = fields.String()
    status = fields.String()
    framework = fields.String()
    workspace_id = fields.Integer(allow_none=True)
    cpu = fields.Integer()
    memory = fields.Integer()
    gpu = fields.Integer()
    priority = fields.Integer()
    pool = fields.String()
    queue = fields.String()
    attempt = fields.Integer()
    external_id = fields.String(allow_none=True)
    created_at = UtcDateTime()
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)


class TransitionSchema(StrictSchema):
    attempt = fields.Integer()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    message = fields.String(allow_none=True)
    at = UtcDateTime()


class AttemptSchema(StrictSchema):
    number = fields.Integer()
    worker = fields.String(allow_none=True)
    gpus = fields.String(allow_none=True)
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    exit_code = fields.Integer(allow_none=True)
    exit_signal = fields.String(allow_none=True)
    failure_class = fields.String(allow_none=True, metadata={
        "description": "user_error, killed_by_signal, out_of_memory, timeout, worker_lost, "
                       "preempted, cancelled or setup_error"})
    message = fields.String(allow_none=True)
    counts_against_retries = fields.Boolean(metadata={
        "description": "false for an attempt the job lost through no fault of its own "
                       "(preempted): it does not use up fault_tolerance_max_retry"})
    instances = fields.List(fields.Nested(lambda: InstanceSchema()), attribute="instance_list",
                            metadata={
        "description": "a multi-host job's instances by rank (a single-instance job: empty)"})


class InstanceSchema(StrictSchema):
    rank = fields.Integer()
    worker = fields.String(allow_none=True)
    gpus = fields.String(allow_none=True)
    pid = fields.Integer(allow_none=True, metadata={
        "description": "the process the worker started on its host (torchrun's agent)"})
    started_at = UtcDateTime(allow_none=True)
    outcome = fields.String(allow_none=True, metadata={
        "description": "how this instance ended: completed, failed, cancelled or preempted; null "
                       "while it runs, or when the attempt ended before it reported"})
    exit_code = fields.Integer(allow_none=True)
    failure_class = fields.String(allow_none=True)
    message = fields.String(allow_none=True, metadata={
        "description": "how this instance ended, in words, when it reported so"})


class MetricSchema(StrictSchema):
    attempt = fields.Integer()
    epoch = fields.Integer()
    total_epochs = fields.Integer(allow_none=True)
    loss = fields.Float(allow_none=True)
    accuracy = fields.Float(allow_none=True)
    val_loss = fields.Float(allow_none=True)
    val_accuracy = fields.Float(allow_none=True)
    f1_score = fields.Float(allow_none=True)
    extra = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True))
    reported_at = UtcDateTime()


class TimelineSchema(StrictSchema):
    created = UtcDateTime()
    started = UtcDateTime(allow_none=True)
    finished = UtcDateTime(allow_none=True)
    stop_requested = UtcDateTime(allow_none=True)


class JobDetailSchema(JobSummarySchema):
    description = fields.String(allow_none=True)
    script_path = fields.String()
    dataset_id = fields.Integer(allow_none=True)
    args = fields.List(fields.String())
    envs = fields.Dict(keys=fields.String(), values=fields.String())
    max_running_time_ms = fields.Integer(allow_none=True)
    notify_url = fields.String(allow_none=True)
    auto_fault_tolerance = fields.Boolean()
    fault_tolerance_max_retry = fields.Integer()
    fault_tolerance_retry_interval_sec = fields.Integer()
    preemptible = fields.Boolean()
    launcher = fields.String()
    nproc_per_node = fields.Integer(allow_none=True)
    instance_count = fields.Integer()
    env_id = fields.String(metadata={
        "description": f"its runtime environment ({DEFAULT_ENV!r} when none was asked for)"})
    failure_message = fields.String(allow_none=True)
    timeline = fields.Nested(TimelineSchema)
    transitions = fields.List(fields.Nested(TransitionSchema))
    attempts = fields.List(fields.Nested(AttemptSchema))
    latest_metrics = fields.Nested(MetricSchema, allow_none=True)
    batch_id = fields.String(allow_none=True, metadata={
        "description": "the batch (POST /api/v1/training/jobs/batch) it was submitted in"})
    model_id = fields.Integer(allow_none=True, metadata={
        "description": "the seed 002 model this job trains (GET /api/v1/projects/"
                       "{workspace_id}/models/{model_id}); null for other jobs"})


class JobPageSchema(StrictSchema):
    items = fields.List(fields.Nested(JobSummarySchema))
    pagination = fields.Nested(PaginationSchema, metadata={"description": (
        "page, page_size, total, total_pages; after a cursor only page_size (no COUNT)")})
    next_cursor = fields.String(allow_none=True, metadata={"description": (
        "pass it as ?cursor= for the next page (same filters); null on the last page")})


class LogEntrySchema(StrictSchema):
    attempt = fields.Integer()
    rank = fields.Integer(metadata={
        "description": "the instance that printed it (0 for a single-instance job)"})
    seq = fields.Integer()
    stream = fields.String(metadata={"description": "stdout or stderr"})
    line = fields.String()
    at = UtcDateTime()


class LogsSchema(StrictSchema):
    logs = fields.List(fields.String())
    entries = fields.List(fields.Nested(LogEntrySchema), metadata={
        "description": "the same lines with attempt, sequence number, stream and time"})


class StepSchema(StrictSchema):
    attempt = fields.Integer()
    step = fields.Integer()
    values = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True), metadata={
        "description": "what the script reported with the step (NaN and infinity as null)"})
    reported_at = UtcDateTime()


class MetricsSchema(StrictSchema):
    metrics = fields.List(fields.Nested(MetricSchema))
    steps = fields.List(fields.Nested(StepSchema), metadata={
        "description": "the per-step curve (report_step) by attempt, then step; at most "
                       "`points` of them"})
    steps_total = fields.Integer(metadata={
        "description": "how many steps the job reported; more than len(steps) when downsampled"})


class StopResultSchema(StrictSchema):
    job_id = fields.String(attribute="id")
    status = fields.String()


class AheadSchema(StrictSchema):
    ids = fields.List(fields.String(), metadata={
        "description": "the jobs ahead in the caller's workspaces (an admin: all), first first"})
    others = fields.Integer(metadata={
        "description": "how many jobs ahead are in workspaces the caller cannot see"})


class QueuePositionSchema(StrictSchema):
    pool = fields.String()
    position = fields.Integer(allow_none=True, metadata={
        "description": "1 is next; null when the job is not waiting (starting, retry_backoff, "
                       "not_queued)"})
    ahead = fields.Nested(AheadSchema)
    reason = fields.String(metadata={"enum": list(REASONS), "description": (
        "no_host, no_environment, draining, too_big, waiting_for_gpus, behind_higher_priority: "
        "the scheduler's plan; starting: placed on its host(s); retry_backoff: a retry waiting "
        "out its delay; not_queued: training or finished; not_planned: the scheduler has no "
        "recent plan")})
    message = fields.String(metadata={"description": "why, in a sentence for a person"})
    eta_seconds = fields.Float(allow_none=True, metadata={
        "description": "seconds until it is expected to start; null when unknown"})
    eta_basis = fields.String(metadata={
        "description": "how the ETA was made, or why it is unknown"})
