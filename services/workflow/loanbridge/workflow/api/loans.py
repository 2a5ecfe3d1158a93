"""Loans: a disbursement recorded on a case, the loan with its schedule, and repayments from the finance system."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.workflow.api.schemas import LoanCreateSchema, LoanSchema, RepaymentCreateSchema, RepaymentSchema
from loanbridge.workflow.handlers import loans

blp = Blueprint("loans", __name__, url_prefix="/api/workflow/v1", description="Loans and repayments")
STAFF = ("admin", "manager", "sales", "risk_officer", "risk_director", "ops")


@blp.route("/cases/<case_id>/loans")
class Disbursement(MethodView):
    @requires("ops", "manager", "admin")
    @blp.arguments(LoanCreateSchema)
    @blp.response(201, LoanSchema)
    def post(self, body: dict[str, Any], case_id: str) -> dict[str, Any]:
        """Record the disbursement of a case in 合同签署: lender, principal, rate, term, 返佣 and repayment method
        (等额本息 equal_installment, 等额本金 equal_principal, or an explicit schedule)."""
        return runtimes.current().transaction(loans.disburse, principal=current_principal(), case_id=case_id,
                                              terms=body)  # fmt: skip


@blp.route("/loans/<loan_id>")
class Loan(MethodView):
    @requires(*STAFF, "service")
    @blp.response(200, LoanSchema)
    def get(self, loan_id: str) -> dict[str, Any]:
        """A loan with its schedule, what was repaid and the outstanding principal."""
        return runtimes.current().transaction(loans.read_loan, principal=current_principal(), loan_id=loan_id)


@blp.route("/loans/<loan_id>/repayments")
class Repayments(MethodView):
    @requires("service", "ops", "admin")
    @blp.arguments(RepaymentCreateSchema)
    @blp.response(201, RepaymentSchema)
    def post(self, body: dict[str, Any], loan_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Record a repayment; the same reference again answers the first result (Idempotent-Replayed: true)."""
        answer, replayed = runtimes.current().transaction(
            loans.record_repayment, principal=current_principal(), loan_id=loan_id, repayment=body
        )
        return answer, 201, {"Idempotent-Replayed": "true"} if replayed else {}
