"""Bodies of the user administration API."""
from marshmallow import fields, validate

from app.api.auth.schemas import MAX_PASSWORD_LENGTH
from app.api.base import PaginationSchema, StrictBool, StrictSchema, UtcDateTime
from app.services.auth import MIN_PASSWORD_LENGTH

USERNAME = validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$",
    error="use 1 to 100 letters, digits, '_', '.', '@' or '-', starting with a letter or digit")
PASSWORD = validate.Length(MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH,
                           error=f"use {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")


class UserCreateSchema(StrictSchema):
    username = fields.String(required=True, validate=USERNAME)
    password = fields.String(required=True, validate=PASSWORD)
    is_admin = StrictBool(load_default=False)


class UserUpdateSchema(StrictSchema):
    password = fields.String(validate=PASSWORD, metadata={
        "description": "a new password; the user's existing tokens stop working"})
    is_admin = StrictBool()


class UserMembershipSchema(StrictSchema):
    workspace_id = fields.Integer()
    name = fields.String()
    role = fields.String(metadata={"description": "viewer or manager"})


class UserSchema(StrictSchema):
    id = fields.Integer()
    username = fields.String()
    is_admin = fields.Boolean()
    created_at = UtcDateTime()
    workspaces = fields.List(fields.Nested(UserMembershipSchema))


class UserPageSchema(StrictSchema):
    items = fields.List(fields.Nested(UserSchema))
    pagination = fields.Nested(PaginationSchema)
