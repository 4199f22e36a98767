"""Seed 004's bodies, field for field: JobOpenapi in, Job out, DetailReq and StopReq. The
document marks every field optional; trainq needs name, framework, command and a spec, and says
so here. The rest of what it needs is checked by the mapping (app/api/train_job/requests.py),
with a message per field."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.api.base import StrictBool, StrictInt, StrictSchema

_ID = validate.Length(1, 64)
_MS = validate.Regexp(r"^\d{1,15}$", error="must be a string of whole milliseconds, e.g. \"3600000\"")


class OpenapiEnvSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 128))
    value = fields.String(load_default="", validate=validate.Length(max=8192))


class OpenapiDatasetInfoSchema(StrictSchema):
    dataset_id = fields.String(required=True, validate=_ID, metadata={
        "description": "the id of a registered dataset (GET /api/v1/admin/datasets)"})
    path = fields.String(validate=validate.Length(max=1024))
    version_id = fields.String(validate=validate.Length(max=64))


class OpenapiFrameworkConfigInSchema(StrictSchema):
    image = fields.String(validate=validate.Length(1, 64), metadata={
        "description": "a runtime environment a worker host declares (trainq worker --env "
                       "NAME=PYTHON); default: \"default\", the worker's own Python"})
    image_type = fields.String(validate=validate.Length(max=64))
    instance_count = StrictInt(validate=validate.Range(1, 64))
    shm_gi = fields.Float(validate=validate.Range(0, 4096))
    spec_id = fields.String(required=True, validate=_ID, metadata={
        "description": "a resource spec of TRAINQ_SPECS: GPUs, CPUs, memory and pool"})


class JobOpenapiSchema(StrictSchema):
    auto_fault_tolerance = StrictBool()
    command = fields.String(required=True, validate=validate.Length(max=16384), metadata={
        "description": "python|python3|torchrun, then a script under the script root and its "
                       "arguments; split like a shell would, never run by one"})
    dataset_info = fields.List(fields.Nested(OpenapiDatasetInfoSchema), validate=validate.Length(max=64))
    enable_notification = StrictBool()
    enable_troubleshoot = StrictBool()
    envs = fields.List(fields.Nested(OpenapiEnvSchema), validate=validate.Length(max=128))
    framework = fields.String(required=True, validate=validate.Length(max=32), metadata={
        "description": "pytorch or tensorflow (case does not matter)"})
    framework_config = fields.List(fields.Nested(OpenapiFrameworkConfigInSchema), required=True,
                                   validate=validate.Length(1, 1))
    logic_compute_group_id = fields.String(validate=validate.Length(max=32))
    max_running_time_ms = fields.String(validate=_MS)
    name = fields.String(required=True, validate=validate.Length(max=200))
    project_id = fields.String(validate=validate.Length(max=20))
    reserve_on_fail_ms = fields.String(validate=_MS)
    reserve_on_success_ms = fields.String(validate=_MS)
    task_priority = StrictInt()
    tb_summary_path = fields.String(validate=validate.Length(max=1024))
    workspace_id = fields.String(validate=validate.Length(max=20))
    # The document's JobOpenapi leaves these to the platform; trainq takes them as on /api/v1.
    fault_tolerance_max_retry = StrictInt()
    fault_tolerance_retry_interval_sec = StrictInt()


class OpenapiJobIdSchema(StrictSchema):
    job_id = fields.String(required=True, validate=validate.Length(1, 64))


class OpenapiUserExtraSchema(Schema):
    institution_id = fields.String()
    login_name = fields.String()


class OpenapiUserBaseSchema(Schema):
    id = fields.String()
    name = fields.String()
    created_at = fields.String(metadata={"description": "ms since the epoch"})
    global_role = fields.Integer(metadata={"description": "1 for an admin, 0 otherwise"})
    extra_info = fields.Nested(OpenapiUserExtraSchema)


class OpenapiResourcesSchema(Schema):
    """What one instance gets, as both price objects of the document repeat it."""

    cpu_count = fields.Float()
    gpu_count = fields.Float()
    memory_size_gib = fields.Float()


class OpenapiPriceInfoSchema(OpenapiResourcesSchema):
    total_price_per_hour = fields.Float(metadata={
        "description": "the spec's price per instance-hour (TRAINQ_SPEC_PRICES) x instances"})


class OpenapiSpecPriceSchema(OpenapiResourcesSchema):
    logic_compute_group_id = fields.String()


class OpenapiFrameworkConfigOutSchema(Schema):
    cpu = fields.Float()
    gpu_count = fields.Integer()
    image = fields.String()
    image_type = fields.String()
    instance_count = fields.Integer()
    instance_spec_price_info = fields.Nested(OpenapiPriceInfoSchema)
    mem_gi = fields.Float()
    predef_id = fields.String(metadata={"description": "the spec_id"})
    replicas_type = fields.Integer()
    resource_spec_price = fields.Nested(OpenapiSpecPriceSchema)
    shm_gi = fields.Float()


class OpenapiTimelineSchema(Schema):
    created = fields.String()
    resource_prepared = fields.String()
    run = fields.String()
    finished = fields.String()


class OpenapiNodeInfoSchema(Schema):
    node_name = fields.String()


class OpenapiJobSchema(Schema):
    """Seed 004's Job; times are strings of ms since the epoch, a timeline key appears once
    reached."""

    job_id = fields.String()
    name = fields.String()
    status = fields.String(metadata={"enum": ["queued", "training", "completed", "failed",
                                              "cancelled"]})
    sub_msg = fields.String(metadata={"description": "why it waits, while queued"})
    command = fields.String()
    framework = fields.String()
    framework_config = fields.List(fields.Nested(OpenapiFrameworkConfigOutSchema))
    envs = fields.List(fields.Nested(OpenapiEnvSchema))
    dataset_info = fields.List(fields.Nested(OpenapiDatasetInfoSchema))
    created_at = fields.String()
    finished_at = fields.String()
    running_time_ms = fields.String()
    max_running_time_ms = fields.String()
    reserve_on_fail_ms = fields.String()
    reserve_on_success_ms = fields.String()
    timeline = fields.Nested(OpenapiTimelineSchema)
    current_running_round = fields.Integer(metadata={"description": "the attempt"})
    node_count = fields.Integer()
    node_infos = fields.List(fields.Nested(OpenapiNodeInfoSchema))
    queue_id = fields.String()
    queue_name = fields.String()
    logic_compute_group_id = fields.String()
    logic_compute_group_name = fields.String()
    priority = fields.Integer()
    task_priority = fields.Integer()
    created_by = fields.Nested(OpenapiUserBaseSchema)
    workspace_id = fields.String()
    project_id = fields.String()
    project_name = fields.String()
    auto_fault_tolerance = fields.Boolean()
    auto_fault_tolerance_params = fields.String()
    fault_tolerance_max_retry = fields.Integer()
    fault_tolerance_retry_interval_sec = fields.Integer()
    enable_notification = fields.Boolean()
    enable_troubleshoot = fields.Boolean()
    tb_summary_path = fields.String()
    config_mode = fields.Integer()


class OpenapiEmptySchema(Schema):
    """Stop's answer: `{}`."""
