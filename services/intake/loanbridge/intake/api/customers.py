"""Customers: lists, the 360 view (personal data in clear only on request, audited), consent and erasure."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.intake import views
from loanbridge.intake.api.schemas import (
    BlacklistCreateSchema,
    BlacklistEntrySchema,
    ConsentAnswerSchema,
    ConsentSchema,
    Customer360Schema,
    CustomerContactsSchema,
    CustomerListQuerySchema,
    CustomerPageSchema,
    ErasureSchema,
    OptOutSchema,
    UnmaskQuerySchema,
)
from loanbridge.intake.handlers import blacklist, customers

blp = Blueprint("customers", __name__, url_prefix="/api/intake/v1", description="Customers")

STAFF = ("admin", "manager", "sales", "ops", "risk_officer", "risk_director")


@blp.route("/customers")
class Customers(MethodView):
    @requires(*STAFF)
    @blp.arguments(CustomerListQuerySchema, location="query")
    @blp.response(200, CustomerPageSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Customers in the caller's scope, newest first (cursor-paginated)."""
        limit, cursor = query.pop("limit"), query.pop("cursor", None)
        page = runtimes.current().transaction(
            views.list_customers, principal=current_principal(), filters=query, limit=limit, cursor=cursor
        )
        return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/customers/<customer_id>")
class Customer(MethodView):
    @requires(*STAFF)
    @blp.arguments(UnmaskQuerySchema, location="query")
    @blp.response(200, Customer360Schema)
    def get(self, query: dict[str, Any], customer_id: str) -> dict[str, Any]:
        """The customer 360: every lead, form, document, follow-up, stage, owner and risk result."""
        runtime = runtimes.current()
        return runtime.transaction(
            customers.read_customer,
            config=runtime.config,
            principal=current_principal(),
            customer_id=customer_id,
            unmask=query["unmask"],
        )

    @requires("admin")
    @blp.response(200, ErasureSchema)
    def delete(self, customer_id: str) -> dict[str, Any]:
        """Erase the person's personal data (crypto-shredding); anonymous facts stay."""
        runtime = runtimes.current()
        return runtime.transaction(
            customers.erase_customer, config=runtime.config, principal=current_principal(), customer_id=customer_id
        )


@blp.route("/customers/<customer_id>/consents")
class Consents(MethodView):
    @requires("admin", "manager", "sales")
    @blp.arguments(ConsentSchema)
    @blp.response(201, ConsentAnswerSchema)
    def post(self, data: dict[str, Any], customer_id: str) -> dict[str, Any]:
        """Record the person's consent to the processing of their data (time, channel, purpose)."""
        return runtimes.current().transaction(
            customers.record_consent,
            principal=current_principal(),
            customer_id=customer_id,
            channel=data["channel"],
            purpose=data["purpose"],
            given_at=data.get("given_at"),
        )


@blp.route("/customers/<customer_id>/opt-out")
class OptOut(MethodView):
    @requires("admin", "manager", "sales")
    @blp.response(200, OptOutSchema)
    def post(self, customer_id: str) -> dict[str, Any]:
        """Record that the customer wants no more marketing messages (退订)."""
        return runtimes.current().transaction(
            customers.record_opt_out, principal=current_principal(), customer_id=customer_id
        )


@blp.route("/blacklist")
class Blacklist(MethodView):
    @requires("risk_officer", "risk_director", "admin")
    @blp.response(200, BlacklistEntrySchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The active blacklist (masked)."""
        return runtimes.current().transaction(blacklist.list_blacklist)

    @requires("risk_officer", "risk_director", "admin")
    @blp.arguments(BlacklistCreateSchema)
    @blp.response(201, BlacklistEntrySchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Blacklist a person by ID number or mobile, with a reason."""
        runtime = runtimes.current()
        return runtime.transaction(
            blacklist.add_to_blacklist,
            config=runtime.config,
            principal=current_principal(),
            id_number=data.get("id_number"),
            mobile=data.get("mobile"),
            reason=data["reason"],
        )


@blp.route("/blacklist/<entry_id>")
class BlacklistEntry(MethodView):
    @requires("risk_officer", "risk_director", "admin")
    @blp.response(204)
    def delete(self, entry_id: str) -> None:
        """Take an entry off the blacklist."""
        runtimes.current().transaction(
            blacklist.remove_from_blacklist, principal=current_principal(), entry_id=entry_id
        )


internal = Blueprint("internal", __name__, url_prefix="/internal/v1", description="Service-to-service (not routed)")


@internal.route("/contacts/customers/<customer_id>")
class CustomerContacts(MethodView):
    @requires("service")
    @internal.response(200, CustomerContactsSchema)
    def get(self, customer_id: str) -> dict[str, Any]:
        """A customer's mobile and opt-out state, for notify at send time (audited)."""
        runtime = runtimes.current()
        return runtime.transaction(
            customers.customer_contacts,
            config=runtime.config,
            caller=current_principal().subject,
            customer_id=customer_id,
        )
