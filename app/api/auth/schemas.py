"""Token request and response bodies (seed 004's GetAuthTokenReq/Resp), password change."""
from marshmallow import fields, validate

from app.api.base import StrictSchema
from app.services.auth import MIN_PASSWORD_LENGTH

MAX_PASSWORD_LENGTH = 1000


class TokenRequestSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(1, 100))
    password = fields.String(required=True, validate=validate.Length(1, MAX_PASSWORD_LENGTH))


class TokenSchema(StrictSchema):
    access_token = fields.String()
    expires_in = fields.Integer(metadata={"description": "seconds until the token expires"})
    token_type = fields.String(metadata={"example": "Bearer"})


class PasswordChangeSchema(StrictSchema):
    current_password = fields.String(required=True,
                                     validate=validate.Length(1, MAX_PASSWORD_LENGTH))
    new_password = fields.String(required=True, validate=validate.Length(
        MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH,
        error=f"use {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"))
