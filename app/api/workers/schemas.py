"""Bodies of the worker host administration API."""
from marshmallow import fields

from app.api.base import PaginationSchema, StrictSchema
from workers.hosts import HostState


class HostSchema(StrictSchema):
    name = fields.String()
    pool = fields.String()
    addr = fields.String(allow_none=True, metadata={
        "description": "where the other hosts of a multi-host job reach it (`trainq worker "
                       "--addr`); null until its first heartbeat says"})
    state = fields.String(metadata={
        "enum": [state.value for state in HostState],
        "description": "online: takes new work; draining: its running jobs finish, nothing new "
                       "starts there; offline: no heartbeat within the lease, or it stopped"})
    draining = fields.Boolean(metadata={
        "description": "set by drain, cleared by undrain; kept while the host is offline"})
    gpus = fields.List(fields.String(), metadata={"description": "GPU ids, in index order"})
    free_gpus = fields.List(fields.String())
    gpus_total = fields.Integer()
    gpus_free = fields.Integer()
    slots = fields.Integer(metadata={"description": "most jobs it runs at once"})
    free_slots = fields.Integer()
    envs = fields.List(fields.String(), metadata={
        "description": "the runtime environments it declares (`trainq worker --env NAME=PATH`; "
                       "always `default`): a job runs here only if its env_id is one of them"})
    running_jobs = fields.List(fields.String(), metadata={
        "description": "ids of the jobs holding its GPUs or slots"})
    heartbeat_age_seconds = fields.Integer(allow_none=True, metadata={
        "description": "seconds since its last heartbeat (Redis server time); null once the "
                       "worker stopped cleanly"})


class HostPageSchema(StrictSchema):
    items = fields.List(fields.Nested(HostSchema))
    pagination = fields.Nested(PaginationSchema)
