"""Webhook delivery bodies."""
from marshmallow import fields

from app.api.base import StrictSchema, UtcDateTime


class DeliverySchema(StrictSchema):
    id = fields.Integer()
    event_id = fields.String(metadata={"description": "sent as the webhook-id header"})
    kind = fields.String(metadata={"description": "status or result"})
    url = fields.String()
    payload = fields.Dict()
    state = fields.String(metadata={"description": "pending, delivered or dead"})
    attempts = fields.Integer()
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = UtcDateTime()
    next_attempt_at = UtcDateTime()
    delivered_at = UtcDateTime(allow_none=True)
    expires_at = UtcDateTime(allow_none=True)


class DeliveryListSchema(StrictSchema):
    deliveries = fields.List(fields.Nested(DeliverySchema))
