"""Token request and response bodies (seed 004's GetAuthTokenReq/Resp)."""
from marshmallow import fields, validate

from app.api.base import StrictSchema


class TokenRequestSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(1, 100))
    password = fields.String(required=True, validate=validate.Length(1, 1000))


class TokenSchema(StrictSchema):
    access_token = fields.String()
    expires_in = fields.Integer(metadata={"description": "seconds until the token expires"})
    token_type = fields.String(metadata={"example": "Bearer"})
