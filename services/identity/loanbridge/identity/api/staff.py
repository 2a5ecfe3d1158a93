"""Staff accounts and teams (admin), and the caller's own account."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.common.errors import NotFound
from loanbridge.identity import handlers, views
from loanbridge.identity.api.schemas import (
    TeamCreateSchema,
    TeamSchema,
    TeamUpdateSchema,
    UserCreateSchema,
    UserSchema,
    UserUpdateSchema,
)

blp = Blueprint("staff", __name__, url_prefix="/api/identity/v1", description="Staff accounts and teams")


@blp.route("/users")
class Users(MethodView):
    @requires("admin")
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a staff account."""
        runtime = runtimes.current()
        return runtime.transaction(handlers.create_user, config=runtime.config, **data)

    @requires("admin", "manager")
    @blp.response(200, UserSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List staff accounts (managers see their own teams' members)."""
        return runtimes.current().transaction(views.list_users, principal=current_principal())


@blp.route("/users/<user_id>")
class User(MethodView):
    @requires("admin", "manager")
    @blp.response(200, UserSchema)
    def get(self, user_id: str) -> dict[str, Any]:
        """Read a staff account."""
        users = runtimes.current().transaction(views.list_users, principal=current_principal(), user_id=user_id)
        if not users:
            raise NotFound("用户不存在")
        return users[0]

    @requires("admin")
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    def patch(self, changes: dict[str, Any], user_id: str) -> dict[str, Any]:
        """Change a staff account (roles, team, contacts, password, or ``active: false`` to deactivate)."""
        runtime = runtimes.current()
        return runtime.transaction(handlers.update_user, config=runtime.config, user_id=user_id, changes=changes)


@blp.route("/me")
class Me(MethodView):
    @requires()
    @blp.response(200, UserSchema)
    def get(self) -> dict[str, Any]:
        """The caller's own staff account."""
        principal = current_principal()
        users = runtimes.current().transaction(views.list_users, principal=None, user_id=principal.subject)
        if not users:
            raise NotFound("用户不存在")
        return users[0]


@blp.route("/teams")
class Teams(MethodView):
    @requires("admin")
    @blp.arguments(TeamCreateSchema)
    @blp.response(201, TeamSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a team with its manager."""
        return runtimes.current().transaction(handlers.create_team, **{"manager_id": None, "region": None, **data})

    @requires()
    @blp.response(200, TeamSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List teams."""
        return runtimes.current().transaction(views.list_teams)


@blp.route("/teams/<team_id>")
class Team(MethodView):
    @requires("admin")
    @blp.arguments(TeamUpdateSchema)
    @blp.response(200, TeamSchema)
    def patch(self, changes: dict[str, Any], team_id: str) -> dict[str, Any]:
        """Rename a team or change its manager or region."""
        return runtimes.current().transaction(handlers.update_team, team_id=team_id, changes=changes)
