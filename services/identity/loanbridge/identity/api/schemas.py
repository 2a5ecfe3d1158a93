"""Request and response schemas of identity's API."""

from __future__ import annotations

from marshmallow import fields, validate

from loanbridge.common.schemas import BaseSchema, MobileField
from loanbridge.identity.domain.staff import STAFF_ROLES

USERNAME = validate.Regexp(r"^[A-Za-z0-9_.@-]{3,64}$", error="用户名为 3-64 位字母、数字或 _.@-")
PASSWORD = validate.Length(min=8, max=128, error="密码长度应为 8-128 位")
NAME = validate.Length(min=1, max=100, error="长度应为 1-100 个字符")
ROLE = validate.OneOf(STAFF_ROLES, error="未知角色")
# An id is an id or null: an empty string must not be stored and published as one.
REFERENCE = validate.Length(min=1, max=36, error="应为 ID 或 null,不能为空字符串")


class TokenRequestSchema(BaseSchema):
    grant_type = fields.String(
        required=True,
        validate=validate.OneOf(["password", "client_credentials"], error="仅支持 password 和 client_credentials"),
    )
    username = fields.String()
    password = fields.String()
    client_id = fields.String()
    client_secret = fields.String()
    scope = fields.String()


class TokenSchema(BaseSchema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


class JwksSchema(BaseSchema):
    keys = fields.List(fields.Dict(), required=True)


class ContactsSchema(BaseSchema):
    """A staff member's contacts: stored encrypted, served only to services through /internal/."""

    mobile = MobileField()
    dingtalk_user_id = fields.String(validate=validate.Length(max=64))
    wecom_user_id = fields.String(validate=validate.Length(max=64))
    email = fields.Email()


class UserCreateSchema(ContactsSchema):
    username = fields.String(required=True, validate=USERNAME)
    password = fields.String(required=True, load_only=True, validate=PASSWORD)
    display_name = fields.String(required=True, validate=NAME)
    roles = fields.List(fields.String(validate=ROLE), required=True, validate=validate.Length(min=1))
    team_id = fields.String(allow_none=True, validate=REFERENCE)
    region = fields.String(allow_none=True, validate=validate.Length(max=32))
    products = fields.List(fields.String(validate=validate.Length(max=32)), load_default=list)


class UserUpdateSchema(ContactsSchema):
    password = fields.String(load_only=True, validate=PASSWORD)
    display_name = fields.String(validate=NAME)
    roles = fields.List(fields.String(validate=ROLE), validate=validate.Length(min=1))
    team_id = fields.String(allow_none=True, validate=REFERENCE)
    region = fields.String(allow_none=True, validate=validate.Length(max=32))
    products = fields.List(fields.String(validate=validate.Length(max=32)))
    active = fields.Boolean()


class UserSchema(BaseSchema):
    id = fields.String(required=True)
    username = fields.String(required=True)
    display_name = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    team_id = fields.String(allow_none=True, validate=REFERENCE)
    region = fields.String(allow_none=True)
    products = fields.List(fields.String())
    active = fields.Boolean(required=True)
    created_at = fields.DateTime()


class TeamCreateSchema(BaseSchema):
    name = fields.String(required=True, validate=NAME)
    manager_id = fields.String(allow_none=True, validate=REFERENCE)
    region = fields.String(allow_none=True, validate=validate.Length(max=32))


class TeamUpdateSchema(BaseSchema):
    name = fields.String(validate=NAME)
    manager_id = fields.String(allow_none=True, validate=REFERENCE)
    region = fields.String(allow_none=True, validate=validate.Length(max=32))


class TeamSchema(BaseSchema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    manager_id = fields.String(allow_none=True, validate=REFERENCE)
    region = fields.String(allow_none=True)


class ClientCreateSchema(BaseSchema):
    name = fields.String(required=True, validate=NAME)


class ClientCredentialsSchema(BaseSchema):
    client_id = fields.String(required=True)
    client_secret = fields.String(required=True, metadata={"description": "shown once; only its hash is kept"})
    name = fields.String(required=True)
    kind = fields.String(required=True)
    partner_id = fields.String()


class PartnerSchema(BaseSchema):
    partner_id = fields.String(required=True)
    client_id = fields.String(required=True)
    name = fields.String(required=True)


class StaffContactsSchema(BaseSchema):
    user_id = fields.String(required=True)
    manager_id = fields.String(allow_none=True, validate=REFERENCE)
    mobile = fields.String(allow_none=True)
    dingtalk_user_id = fields.String(allow_none=True)
    wecom_user_id = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
