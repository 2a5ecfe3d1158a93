"""Loans after disbursement: the schedule generated, repayments recorded once per reference, installments
overdue by business days, and full repayment settling the loan and the case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from loanbridge.common import clock

API = "/api/workflow/v1"
TERMS = {
    "lender": "齐鲁银行",
    "lender_product": "房抵经营贷",
    "principal": 100000,
    "annual_rate": 0.12,
    "term_months": 12,
    "commission": 1500,
    "method": "equal_installment",
    "first_due_date": "2026-12-30",
}


def _in_contract(suite: Any) -> dict[str, Any]:
    case = suite.lead(submitted_by="sales-zhang", amount=100000)
    suite.deliver(suite.submitted(case), suite.evaluation(case, "approve"))
    sales = suite.headers("sales-zhang")
    suite.client.post(f"{API}/cases/{case['id']}/transitions", json={"to": "risk_review"}, headers=sales)
    submission = suite.client.post(f"{API}/cases/{case['id']}/lender-submissions",
                                   json={"lender": "齐鲁银行", "lender_product": "房抵经营贷", "amount": 100000},
                                   headers=sales).get_json()  # fmt: skip
    suite.client.post(f"{API}/cases/{case['id']}/lender-submissions/{submission['id']}/decision",
                      json={"decision": "approved", "approved_amount": 100000},
                      headers=suite.headers("ops-sun", "ops"))  # fmt: skip
    assert suite.case(case["id"])["stage"] == "contract"
    suite.events()
    return case


def _disburse(suite: Any, case: dict[str, Any], **changes: Any) -> Any:
    return suite.client.post(f"{API}/cases/{case['id']}/loans", json={**TERMS, **changes},
                             headers=suite.headers("ops-sun", "ops"))  # fmt: skip


def _repay(suite: Any, loan: dict[str, Any], installment: int, reference: str, amount: float | None = None) -> Any:
    line = loan["schedule"][installment - 1]
    body = {"reference": reference, "installment": installment, "amount": amount or line["amount"],
            "paid_at": clock.isoformat(clock.now())}  # fmt: skip
    return suite.client.post(f"{API}/loans/{loan['id']}/repayments", json=body,
                             headers=suite.headers("finance-system", "service"))  # fmt: skip


def annuity_payment() -> Decimal:
    rate = Fraction(12, 100) / 12
    growth = (1 + rate) ** 12
    exact = Fraction(100000) * rate * growth / (growth - 1)
    return Decimal(exact.numerator / Decimal(exact.denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_a_100000_yuan_12_month_equal_installment_loan_at_12_percent_matches_the_annuity_formula(suite: Any) -> None:
    case = _in_contract(suite)

    response = _disburse(suite, case)

    assert response.status_code == 201, response.get_json()
    schedule = response.get_json()["schedule"]
    payment = float(annuity_payment())
    assert payment == 8884.88
    assert [line["amount"] for line in schedule[:11]] == [payment] * 11
    assert schedule[0]["interest"] == 1000.0
    assert round(sum(Decimal(str(line["principal"])) for line in schedule), 2) == Decimal("100000")
    assert suite.case(case["id"])["stage"] == "disbursed"
    [disbursed] = suite.events("workflow.loan.disbursed")
    assert (disbursed.data["principal"], disbursed.data["commission"], len(disbursed.data["schedule"])) == (
        100000,
        1500,
        12,
    )
    assert disbursed.data["schedule"][0] == {"installment": 1, "due_date": "2026-12-30", "principal": 7884.88,
                                             "interest": 1000, "amount": 8884.88}  # fmt: skip


def test_an_equal_principal_loan_repays_the_same_principal_each_month(suite: Any) -> None:
    case = _in_contract(suite)

    schedule = _disburse(suite, case, method="equal_principal").get_json()["schedule"]

    assert {line["principal"] for line in schedule[:11]} == {8333.33}
    assert schedule[0]["interest"] == 1000.0


def test_a_case_not_in_contract_cannot_be_disbursed(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")

    response = _disburse(suite, case)

    assert (response.status_code, response.get_json()["code"]) == (409, "case_not_in_contract")


def test_an_explicit_schedule_whose_principals_do_not_add_up_is_refused(suite: Any) -> None:
    case = _in_contract(suite)
    lines = [{"due_date": "2027-01-30", "principal": 50000, "interest": 500},
             {"due_date": "2027-02-28", "principal": 40000, "interest": 250}]  # fmt: skip

    response = _disburse(suite, case, method="explicit", schedule=lines, first_due_date=None)

    assert response.status_code == 422
    assert suite.case(case["id"])["stage"] == "contract"


def test_a_repayment_recorded_twice_counts_once(suite: Any) -> None:
    case = _in_contract(suite)
    loan = _disburse(suite, case).get_json()

    first = _repay(suite, loan, 1, "TXN-20261230-0001")
    second = _repay(suite, loan, 1, "TXN-20261230-0001")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.get_json() == second.get_json()
    assert len(suite.events("workflow.repayment.recorded")) == 1
    read = suite.client.get(f"{API}/loans/{loan['id']}", headers=suite.headers("ops-sun", "ops")).get_json()
    assert read["schedule"][0]["paid_amount"] == 8884.88
    assert read["outstanding_principal"] == round(100000 - 7884.88, 2)


def test_a_reference_reused_for_another_repayment_is_refused(suite: Any) -> None:
    case = _in_contract(suite)
    loan = _disburse(suite, case).get_json()
    _repay(suite, loan, 1, "TXN-1")

    response = _repay(suite, loan, 2, "TXN-1")

    assert (response.status_code, response.get_json()["code"]) == (409, "repayment_reference_reused")


def test_an_installment_unpaid_one_business_day_past_due_is_overdue_by_one_day(
    suite: Any, fixed_clock: Any, run_timers: Any
) -> None:
    case = _in_contract(suite)
    loan = _disburse(suite, case).get_json()
    # 00:30 on 31 December in Shanghai is still 30 December in UTC: the business day counts.
    fixed_clock.set(datetime(2026, 12, 30, 16, 30, tzinfo=UTC))
    suite.events()

    run_timers()
    run_timers()

    [overdue] = suite.events("workflow.loan.overdue")
    assert (overdue.data["loan_id"], overdue.data["installment"], overdue.data["days_past_due"]) == (loan["id"], 1, 1)
    assert overdue.data["outstanding_principal"] == 100000


def test_an_installment_due_today_is_not_overdue(suite: Any, fixed_clock: Any, run_timers: Any) -> None:
    case = _in_contract(suite)
    _disburse(suite, case)
    fixed_clock.set(datetime(2026, 12, 30, 15, 59, tzinfo=UTC))  # 23:59 on the due date in Shanghai

    run_timers()

    assert suite.events("workflow.loan.overdue") == []


def test_the_overdue_check_reports_again_the_next_business_day(suite: Any, fixed_clock: Any, run_timers: Any) -> None:
    case = _in_contract(suite)
    _disburse(suite, case)
    fixed_clock.set(datetime(2026, 12, 31, 2, tzinfo=UTC))
    run_timers()
    fixed_clock.advance(timedelta(days=1))

    run_timers()

    assert [event.data["days_past_due"] for event in suite.events("workflow.loan.overdue")] == [1, 2]


def test_full_repayment_settles_the_loan_and_the_case_and_plans_a_re_loan_follow_up(suite: Any) -> None:
    case = _in_contract(suite)
    loan = _disburse(suite, case).get_json()

    for number in range(1, 13):
        assert _repay(suite, loan, number, f"TXN-{number}").status_code == 201

    [settled] = suite.events("workflow.loan.settled")
    assert (settled.data["loan_id"], settled.data["case_id"]) == (loan["id"], case["id"])
    assert suite.case(case["id"])["stage"] == "settled"
    [reloan] = suite.tasks(case["id"])
    assert (reloan["kind"], reloan["assignee_id"]) == ("reloan_followup", "sales-zhang")
    assert clock.as_utc(reloan["due_at"]) - clock.now() == timedelta(days=91)
