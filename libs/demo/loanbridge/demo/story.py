"""The story of the demo firm: who joins, which leads come in on which day, and what becomes of each one.

Every step is a call to a service's own API at its business time (see walk.py). The story decides outcomes with a
seeded random generator, so one seed always writes the same firm; the services decide everything else (owners,
stages, tasks, risk decisions, schedules) exactly as they do live.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any

from loanbridge.common import clock
from loanbridge.demo import firm
from loanbridge.demo.walk import Walk, after_days, after_working_hours, local, working_day
from loanbridge.identity import handlers as identity_handlers
from loanbridge.identity import keys as identity_keys
from loanbridge.identity import orm as identity_orm
from loanbridge.identity.domain.tokens import staff_claims
from loanbridge.workflow.handlers import loans as workflow_loans

ID, IN, WF, RISK = "/api/identity/v1", "/api/intake/v1", "/api/workflow/v1", "/api/risk/v1"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
OVERDUE_CHECK_AT = time(7, 30)


@dataclass
class Lead:
    number: int
    product: str
    channel: firm.Channel
    city: str
    amount: int
    term: int
    quality: float  # 0 (weak file) .. 1 (strong file)
    id: str = ""
    customer_id: str = ""
    owner: str | None = None
    documents: set[str] = field(default_factory=set)
    lenders_tried: list[str] = field(default_factory=list)
    loan_id: str | None = None
    behaviour: str = "good"


@dataclass
class Counts:
    leads: int = 0
    followups: int = 0
    documents: int = 0
    submissions: int = 0
    reviews: int = 0
    lender_submissions: int = 0
    lender_approvals: int = 0
    loans: int = 0
    repayments: int = 0
    overdue_loans: int = 0
    settled: int = 0
    released: int = 0
    claimed: int = 0
    lost: int = 0


class Story:
    """Writes the firm into a walk: ``setup`` at its start, then ``months`` of leads and their lives."""

    def __init__(self, walk: Walk, *, seed: int, password: str, leads_per_month: int) -> None:
        self.walk = walk
        self.api = walk.api
        self.rng = random.Random(seed)
        self.password = password
        self.leads_per_day = leads_per_month / 21.7
        self.counts = Counts()
        self.tokens: dict[str, str] = {}
        self.users: dict[str, str] = {}  # username -> user id
        self.teams: dict[str, str] = {}  # team key -> team id
        self.members: dict[str, list[str]] = {}  # team key -> salespeople usernames
        self.team_of_city = {city: team.key for team in firm.TEAMS for city in team.cities}
        self.username_of: dict[str, str] = {}
        self.partner: dict[str, str] = {}
        self.finance: dict[str, str] = {}
        self.used_mobiles: set[str] = set()
        self.used_ids: set[str] = set()
        self.leads: list[Lead] = []
        self.risk_staff = [p.username for p in firm.STAFF if "risk_officer" in p.roles]
        self.director = next(p.username for p in firm.STAFF if "risk_director" in p.roles)
        self.ops = next(p.username for p in firm.STAFF if "ops" in p.roles)
        self.admin = next(p.username for p in firm.STAFF if "admin" in p.roles)

    # --- the firm ---------------------------------------------------------------------------------------
    def setup(self) -> None:
        """Staff and teams (identity), channels and forms (intake), lenders (risk), assignment rules (workflow)."""
        identity = self.walk.suite.runtimes["identity"]
        admin_id = identity.transaction(
            identity_handlers.ensure_admin, config=identity.config, username=self.admin, password=self.password
        )
        self.users[self.admin] = admin_id
        self.sign_in(self.admin)
        admin = self.tokens[self.admin]
        self.api.call("PATCH", f"{ID}/users/{admin_id}", token=admin, json={"display_name": "孙建国"})
        for team in firm.TEAMS:
            self.teams[team.key] = self.api.call("POST", f"{ID}/teams", token=admin,
                                                 json={"name": team.name, "region": team.region})["id"]  # fmt: skip
        for person in firm.STAFF:
            if person.username == self.admin:
                continue
            team = next((t for t in firm.TEAMS if t.key == person.team), None)
            body = {
                "username": person.username, "password": self.password, "display_name": person.display_name,
                "roles": list(person.roles), "team_id": self.teams.get(person.team or ""),
                "region": team.region if team else "济南", "products": ["house", "credit", "car"],
                "mobile": firm.mobile(self.rng, self.used_mobiles), "email": f"{person.username}@qlrt.example.cn",
            }  # fmt: skip
            self.users[person.username] = self.api.call("POST", f"{ID}/users", token=admin, json=body)["id"]
            if "sales" in person.roles and person.team:
                self.members.setdefault(person.team, []).append(person.username)
            if "manager" in person.roles and person.team:
                self.api.call("PATCH", f"{ID}/teams/{self.teams[person.team]}", token=admin,
                              json={"manager_id": self.users[person.username]})  # fmt: skip
        self.username_of = {user_id: name for name, user_id in self.users.items()}
        self.partner = self.api.call("POST", f"{ID}/partners", token=admin, json={"name": firm.PARTNER_NAME})
        self.finance = self.api.call("POST", f"{ID}/service-clients", token=admin, json={"name": "财务系统"})
        self.sign_in(next(p.username for p in firm.STAFF if "sales" in p.roles))
        for person in firm.STAFF:
            self.tokens.setdefault(person.username, self.issue_token(self.users[person.username]))
        self.tokens["partner"] = self.client_token(self.partner)
        self.tokens["finance"] = self.client_token(self.finance)
        known = {channel["code"] for channel in self.api.call("GET", f"{IN}/channels", token=admin)}
        for channel in (c for c in firm.CHANNELS if c.code not in known):  # the install's defaults are kept
            self.api.call("POST", f"{IN}/channels", token=admin, json={
                "code": channel.code, "name": channel.name, "kind": channel.kind,
                "partner_id": self.partner["partner_id"] if channel.partner else None})  # fmt: skip
        self.publish_forms(admin)
        for product in firm.LENDER_PRODUCTS:
            self.api.call("POST", f"{RISK}/lender-products", token=admin, json=product.as_request())
        for position, team in enumerate(firm.TEAMS):
            self.api.call("POST", f"{WF}/assignment-rules", token=admin, json={
                "position": (position + 1) * 10, "name": f"{team.name}(合作方线索)",
                "condition": {"cities": list(team.cities)}, "strategy": "round_robin",
                "team_id": self.teams[team.key]})  # fmt: skip

    def sign_in(self, username: str) -> None:
        answer = self.api.call("POST", f"{ID}/token", data={"grant_type": "password", "username": username,
                                                            "password": self.password})  # fmt: skip
        self.tokens[username] = answer["access_token"]

    def issue_token(self, user_id: str) -> str:
        """The token identity's password grant would answer this account (its claims, signed with identity's own
        key): the admin and one salesperson sign in for real, the others are spared an Argon2 check each."""
        identity = self.walk.suite.runtimes["identity"]

        def issue(uow: Any) -> str:
            row = identity_orm.user_by_id(uow.session, user_id)
            claims = staff_claims(
                user_id=row.id, display_name=row.display_name, roles=identity_orm.load_list(row.roles),
                team_id=row.team_id, managed_team_ids=identity_orm.team_ids_managed_by(uow.session, row.id),
                region=row.region, issuer=identity.settings.auth.issuer, audience=identity.settings.auth.audience,
                now=clock.now(), ttl=timedelta(seconds=identity.config.token_ttl_seconds),
            )  # fmt: skip
            return identity_keys.sign(uow.session, identity.config.cipher, claims, now=clock.now())

        return str(identity.transaction(issue))

    def client_token(self, client: dict[str, str]) -> str:
        answer = self.api.call("POST", f"{ID}/token", data={"grant_type": "client_credentials",
                                                            "client_id": client["client_id"],
                                                            "client_secret": client["client_secret"]})  # fmt: skip
        return str(answer["access_token"])

    def publish_forms(self, admin: str) -> None:
        """Version 2 of each product's form: the published one with one optional field the firm asks for."""
        for product, (name, schema) in firm.FORM_ADDITIONS.items():
            forms = self.api.call("GET", f"{IN}/products/{product}/forms", token=admin)
            current = next(form for form in forms if form["status"] == "published")
            definition = copy.deepcopy(current["definition"])
            definition["properties"][name] = schema
            draft = self.api.call("POST", f"{IN}/products/{product}/forms", token=admin,
                                  json={"definition": definition, "note": "增加选填字段"})  # fmt: skip
            self.api.call("POST", f"{IN}/products/{product}/forms/{draft['version']}/publish", token=admin)

    # --- the calendar of the months -----------------------------------------------------------------------
    def plan(self, first_day: date, last_day: date) -> None:
        """Spend at each month's start, the leads of every day, the weekly overdue check of the loan book."""
        day = first_day
        while day <= last_day:
            if day == first_day or day.day == 1:
                self.walk.at(local(day, time(8, 30)), lambda month=day: self.record_spend(month))
            if working_day(day) or self.rng.random() < 0.5:
                rate = self.leads_per_day * (1.0 if working_day(day) else 0.4) * (0.85 + 0.3 * self.rng.random())
                for _ in range(_poisson(self.rng, rate)):
                    at = local(day, time(self.rng.randint(9, 20), self.rng.randrange(60)))
                    self.walk.at(at, self.new_lead)
            if day.weekday() == 0:
                self.walk.at(local(day, OVERDUE_CHECK_AT), self.check_overdue)
            day += timedelta(days=1)
        self.walk.at(local(last_day, OVERDUE_CHECK_AT), self.check_overdue)

    def record_spend(self, month: date) -> None:
        for channel in firm.CHANNELS:
            low, high = channel.monthly_spend
            self.api.call("PUT", f"{IN}/channels/{channel.code}/spend/{month:%Y-%m}", token=self.tokens[self.admin],
                          json={"amount": self.rng.randrange(low, high, 100)})  # fmt: skip

    def check_overdue(self) -> None:
        """The loan book's overdue check of that morning (workflow's own daily check, run by the story on the days
        it chooses): each unpaid installment past due is reported with its days past due."""
        workflow = self.walk.suite.runtimes["workflow"]
        while workflow.transaction(workflow_loans.mark_overdue, limit=500) == 500:
            pass

    # --- a lead's life ------------------------------------------------------------------------------------
    def new_lead(self) -> None:
        rng = self.rng
        product = firm.weighted(rng, firm.PRODUCT_WEIGHTS)
        channel = rng.choices(firm.CHANNELS, weights=[c.weight for c in firm.CHANNELS])[0]
        city = firm.weighted(rng, firm.CITY_WEIGHTS)
        lead = Lead(number=len(self.leads) + 1, product=product, channel=channel, city=city,
                    amount=rng.choice(firm.AMOUNTS[product]), term=rng.choice(firm.TERMS[product]),
                    quality=rng.betavariate(2.6, 1.6))  # fmt: skip
        age = rng.randint(24, 57)
        today = clock.business_date(clock.now())
        birth = date(today.year - age, rng.randint(1, 12), rng.randint(1, 28))
        body: dict[str, Any] = {
            "name": firm.person_name(rng), "mobile": firm.mobile(rng, self.used_mobiles),
            "id_number": firm.id_number(rng, city=city, birth=birth, used=self.used_ids), "city": city,
            "product": product, "amount": lead.amount, "term_months": lead.term,
            "purpose": rng.choice(firm.PURPOSES), "channel": channel.code, "form": self.form(lead),
        }  # fmt: skip
        if channel.partner:
            token = self.tokens["partner"]
            body["external_ref"] = f"RX{clock.business_date(clock.now()):%Y%m%d}{lead.number:05d}"
        else:
            entered_by = rng.choice(self.members[self.team_of_city[city]])
            token = self.tokens[entered_by]
        answer = self.api.call("POST", f"{IN}/leads", token=token, json=body)
        lead.id, lead.customer_id = answer["id"], answer["customer_id"]
        self.leads.append(lead)
        self.counts.leads += 1
        self.walk.at(after_working_hours(clock.now(), rng.uniform(0.3, 5.0)), lambda: self.first_contact(lead))

    def form(self, lead: Lead) -> dict[str, Any]:
        """The product form as the customer would fill it: a stronger file has more income, less debt, fewer
        credit inquiries and overdue marks, and more collateral."""
        rng, q = self.rng, lead.quality
        income = round(rng.uniform(4000, 9000) + q * rng.uniform(4000, 30000), -2)
        debt_ratio = max(0.0, min(0.95, rng.gauss(0.75 - 0.55 * q, 0.12)))
        values: dict[str, Any] = {
            "monthly_income": income,
            "monthly_debt_payment": round(income * debt_ratio, -1),
            "credit_inquiries_3m": max(0, int(rng.gauss(9 - 8 * q, 2))),
            "overdue_count_24m": max(0, int(rng.gauss(4 - 4.5 * q, 1.3))),
        }
        if lead.product == "house":
            valuation = lead.amount / rng.uniform(0.35, 0.9)
            values |= {"property_city": lead.city, "property_area": round(rng.uniform(60, 180), 1),
                       "property_valuation": round(valuation, -3),
                       "existing_mortgage_balance": round(valuation * max(0.0, rng.uniform(-0.2, 0.25)), -3),
                       "property_address": f"{lead.city}市某区某路{rng.randint(1, 300)}号",
                       "property_type": rng.choice(["residence", "residence", "shop", "office"])}  # fmt: skip
        elif lead.product == "car":
            valuation = lead.amount / rng.uniform(0.45, 0.95)
            values |= {"vehicle_brand": rng.choice(["大众", "丰田", "本田", "别克", "比亚迪", "吉利", "奥迪"]),
                       "vehicle_age_years": rng.randint(1, 12), "vehicle_valuation": round(valuation, -3),
                       "vehicle_mileage_km": rng.randint(8, 180) * 1000}  # fmt: skip
        else:
            employer = rng.choices(["government", "state_owned", "public_institution", "private", "self_employed",
                                    "freelance"], weights=[1, 2, 2, 5, 3, 1])[0]  # fmt: skip
            values |= {"employer_type": employer, "employer_name": "某某有限公司",
                       "social_security_months": max(0, int(rng.gauss(12 + 40 * q, 14))),
                       "work_years": rng.randint(0, 20)}  # fmt: skip
        return values

    def case(self, lead: Lead) -> dict[str, Any]:
        return dict(self.api.call("GET", f"{WF}/cases/{lead.id}", token=self.tokens[self.admin]))

    def owner_token(self, lead: Lead) -> str:
        owner = self.case(lead)["assignee_id"]
        lead.owner = self.username_of.get(owner or "")
        return self.tokens[lead.owner] if lead.owner else self.tokens[self.admin]

    def follow_up(self, lead: Lead, outcome: str, intent: str | None, *, token: str | None = None) -> None:
        method = self.rng.choice(["call", "call", "call", "wechat", "visit"])
        self.api.call("POST", f"{IN}/leads/{lead.id}/followups", token=token or self.owner_token(lead),
                      json={"method": method, "outcome": outcome, "intent_level": intent})  # fmt: skip
        self.counts.followups += 1

    def first_contact(self, lead: Lead) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.12:  # never reached: a few more tries, then given up as lost
            self.follow_up(lead, "no_answer", None)
            self.walk.at(after_days(clock.now(), rng.randint(2, 5), rng), lambda: self.give_up(lead))
            return
        if roll < 0.22:  # not interested: the salesperson lets the customer go to the public pool
            self.follow_up(lead, "not_interested", "D")
            self.walk.at(after_days(clock.now(), rng.randint(1, 4), rng), lambda: self.release(lead))
            return
        intent = "A" if lead.quality > 0.7 else ("B" if lead.quality > 0.4 else "C")
        self.follow_up(lead, rng.choice(["interested", "materials_pending", "appointment"]), intent)
        self.walk.at(after_days(clock.now(), rng.randint(1, 4), rng), lambda: self.collect_documents(lead))

    def give_up(self, lead: Lead) -> None:
        self.follow_up(lead, "no_answer", "D")
        if self.rng.random() < 0.6:
            self.api.call("POST", f"{WF}/cases/{lead.id}/transitions", token=self.owner_token(lead),
                          json={"to": "lost", "reason": "多次联系未接通"})  # fmt: skip
            self.counts.lost += 1

    def release(self, lead: Lead) -> None:
        self.api.call("POST", f"{WF}/cases/{lead.id}/release", token=self.owner_token(lead),
                      json={"reason": "客户暂无需求"})  # fmt: skip
        self.counts.released += 1
        if self.rng.random() < 0.45:
            self.walk.at(after_days(clock.now(), self.rng.randint(8, 20), self.rng), lambda: self.claim(lead))

    def claim(self, lead: Lead) -> None:
        team = self.team_of_city[lead.city]
        others = [name for name in self.members[team] if name != lead.owner] or self.members[team]
        claimer = self.rng.choice(others)
        self.api.call("POST", f"{WF}/pool/{lead.id}/claim", token=self.tokens[claimer])
        self.counts.claimed += 1
        lead.owner = claimer
        self.walk.at(clock.now() + timedelta(minutes=self.rng.randint(5, 40)), lambda: self.recontact(lead))

    def recontact(self, lead: Lead) -> None:
        self.follow_up(lead, "interested", "B")
        self.walk.at(after_days(clock.now(), self.rng.randint(1, 3), self.rng), lambda: self.collect_documents(lead))

    def collect_documents(self, lead: Lead) -> None:
        """The customer brings the file's documents (a weaker file sometimes lacks one), then it is submitted."""
        required = {"house": ["id_card", "credit_report", "bank_statement", "property_certificate"],
                    "credit": ["id_card", "credit_report", "bank_statement", "income_proof"],
                    "car": ["id_card", "credit_report", "vehicle_license", "bank_statement"]}[lead.product]  # fmt: skip
        if self.rng.random() < 0.18:
            required = required[:-1]
        token = self.owner_token(lead)
        for doc_type in required:
            self.upload(lead, doc_type, token)
        self.follow_up(lead, "materials_pending", None, token=token)
        self.walk.at(after_working_hours(clock.now(), self.rng.uniform(0.5, 3)), lambda: self.submit(lead))

    def upload(self, lead: Lead, doc_type: str, token: str) -> None:
        content = PDF + f"% {lead.id} {doc_type}\n".encode()
        self.api.call("POST", f"{IN}/leads/{lead.id}/documents", token=token,
                      data={"doc_type": doc_type, "file": (_stream(content), f"{doc_type}.pdf")})  # fmt: skip
        lead.documents.add(doc_type)
        self.counts.documents += 1

    def submit(self, lead: Lead) -> None:
        self.api.call("POST", f"{IN}/leads/{lead.id}/submit", token=self.owner_token(lead))
        self.counts.submissions += 1
        # Risk evaluates the submission as its event arrives (already drained when the next step looks).
        self.walk.at(clock.now() + timedelta(minutes=self.rng.randint(3, 20)), lambda: self.after_evaluation(lead))

    def after_evaluation(self, lead: Lead) -> None:
        stage = self.case(lead)["stage"]
        rng = self.rng
        if stage == "assigned":  # sent back for 补充材料: the missing document, then a new submission
            self.walk.at(after_days(clock.now(), rng.randint(1, 3), rng), lambda: self.supplement(lead))
        elif stage == "pre_review":  # routed to a person
            self.walk.at(after_working_hours(clock.now(), rng.uniform(1, 7)), lambda: self.review(lead))
        elif stage == "plan_matching":
            self.walk.at(after_days(clock.now(), rng.randint(0, 2), rng), lambda: self.match(lead))

    def supplement(self, lead: Lead) -> None:
        token = self.owner_token(lead)
        required = {"house": "property_certificate", "credit": "income_proof", "car": "bank_statement"}[lead.product]
        self.upload(lead, required, token)
        self.submit(lead)

    def review(self, lead: Lead) -> None:
        """A risk officer (a director above 500,000) reads the file the rules routed to a person."""
        reviewer = self.director if lead.amount > 500_000 else self.rng.choice(self.risk_staff)
        passed = self.rng.random() < 0.35 + 0.5 * lead.quality
        self.api.call("POST", f"{WF}/cases/{lead.id}/transitions", token=self.tokens[reviewer],
                      json={"to": "plan_matching" if passed else "rejected",
                            "reason": "人工复核通过" if passed else "人工复核未通过:还款能力不足"})  # fmt: skip
        self.counts.reviews += 1
        if passed:
            self.walk.at(after_days(clock.now(), self.rng.randint(0, 2), self.rng), lambda: self.match(lead))

    def match(self, lead: Lead) -> None:
        """方案匹配: ask risk which lender products fit, then send the file to the best one not tried yet."""
        token = self.owner_token(lead)
        answer = self.api.call("POST", f"{RISK}/match", token=token, json={
            "product": lead.product, "amount": lead.amount, "term_months": lead.term, "city": lead.city,
            "features": {k: v for k, v in self.form(lead).items() if isinstance(v, int | float)}})  # fmt: skip
        eligible = [entry["code"] for entry in answer["eligible"] if entry["code"] not in lead.lenders_tried]
        fallback = [p.code for p in firm.LENDER_PRODUCTS if lead.product in p.products and p.code not in
                    lead.lenders_tried]  # fmt: skip
        choice = (eligible or fallback or [None])[0]
        if choice is None:
            self.api.call("POST", f"{WF}/cases/{lead.id}/transitions", token=self.tokens[self.director],
                          json={"to": "rejected", "reason": "无匹配的资方产品"})  # fmt: skip
            return
        product = next(p for p in firm.LENDER_PRODUCTS if p.code == choice)
        lead.lenders_tried.append(choice)
        self.api.call("POST", f"{WF}/cases/{lead.id}/transitions", token=token,
                      json={"to": "risk_review", "reason": f"匹配{product.lender}{product.name}"})  # fmt: skip
        submission = self.api.call("POST", f"{WF}/cases/{lead.id}/lender-submissions", token=token,
                                   json={"lender": product.lender, "lender_product": product.name,
                                         "amount": lead.amount})  # fmt: skip
        self.counts.lender_submissions += 1
        self.walk.at(after_days(clock.now(), self.rng.randint(1, 5), self.rng),
                     lambda: self.lender_decides(lead, product, submission["id"]))  # fmt: skip

    def lender_decides(self, lead: Lead, product: firm.LenderProduct, submission_id: str) -> None:
        rng = self.rng
        approved = rng.random() < (0.3 + 0.6 * lead.quality) / product.strictness
        decider = self.director if lead.amount > 500_000 else self.ops
        if approved:
            amount = round(lead.amount * rng.choice([1.0, 1.0, 1.0, 0.9, 0.8]), -3)
            body = {"decision": "approved", "approved_amount": amount, "reason": "资方审批通过"}
        else:
            rematch = len(lead.lenders_tried) < 2 and rng.random() < 0.6
            body = {"decision": "declined", "reason": rng.choice(["资方综合评分不足", "负债偏高", "征信查询过多"]),
                    "next_stage": "plan_matching" if rematch else "lender_declined"}  # fmt: skip
        self.api.call("POST", f"{WF}/cases/{lead.id}/lender-submissions/{submission_id}/decision",
                      token=self.tokens[decider], json=body)  # fmt: skip
        if approved:
            self.counts.lender_approvals += 1
            self.walk.at(after_days(clock.now(), rng.randint(1, 4), rng),
                         lambda: self.disburse(lead, product, body["approved_amount"]))  # fmt: skip
        elif body["next_stage"] == "plan_matching":
            self.walk.at(after_days(clock.now(), rng.randint(1, 3), rng), lambda: self.match(lead))

    def disburse(self, lead: Lead, product: firm.LenderProduct, principal: float) -> None:
        rng = self.rng
        today = clock.business_date(clock.now())
        first_due = _add_months(today, 1)
        rate = round(rng.uniform(*product.rate), 4)
        loan = self.api.call("POST", f"{WF}/cases/{lead.id}/loans", token=self.tokens[self.ops], json={
            "lender": product.lender, "lender_product": product.name, "principal": principal, "annual_rate": rate,
            "term_months": lead.term, "commission": round(principal * product.commission_rate, 2),
            "method": rng.choice(["equal_installment", "equal_installment", "equal_principal"]),
            "first_due_date": first_due.isoformat()})  # fmt: skip
        lead.loan_id = loan["id"]
        self.counts.loans += 1
        # The story decides how each borrower repays: most on time, some late once, a few stop paying.
        roll = 0.0 if self.counts.loans in (2, 5) else rng.random()  # a few sure defaults, whatever the scale
        lead.behaviour = ("default" if roll < 0.08 + 0.12 * (1 - lead.quality) else
                          "late" if roll < 0.28 else "prepay" if roll < 0.36 else "good")  # fmt: skip
        if lead.behaviour == "default":
            self.counts.overdue_loans += 1
        self.walk.at(after_days(clock.now(), 1, rng), lambda: self.start_post_loan(lead))
        stop_at = rng.randint(1, 2)
        for line in loan["schedule"]:
            due = date.fromisoformat(line["due_date"]) if isinstance(line["due_date"], str) else line["due_date"]
            number = line["installment"]
            if lead.behaviour == "default" and number >= stop_at:
                break
            if lead.behaviour == "prepay" and number == 3:
                self.walk.at(local(due - timedelta(days=5), time(10, 0)), lambda: self.settle_early(lead))
                break
            paid_on = due - timedelta(days=rng.randint(0, 3))
            if lead.behaviour == "late" and number == 2:
                paid_on = due + timedelta(days=rng.randint(5, 40))
            self.walk.at(local(paid_on, time(rng.randint(9, 20), rng.randrange(60))),
                         lambda n=number, amount=line["amount"]: self.repay(lead, n, amount))  # fmt: skip

    def start_post_loan(self, lead: Lead) -> None:
        self.api.call("POST", f"{WF}/cases/{lead.id}/transitions", token=self.tokens[self.ops],
                      json={"to": "post_loan", "reason": "放款完成,进入贷后"})  # fmt: skip

    def repay(self, lead: Lead, installment: int, amount: float) -> None:
        self.api.call("POST", f"{WF}/loans/{lead.loan_id}/repayments", token=self.tokens["finance"], json={
            "reference": f"{lead.loan_id[:8]}-{installment:03d}", "installment": installment, "amount": amount,
            "paid_at": clock.isoformat(clock.now())})  # fmt: skip
        self.counts.repayments += 1

    def settle_early(self, lead: Lead) -> None:
        """提前结清: every unpaid installment at once, which settles the loan."""
        loan = self.api.call("GET", f"{WF}/loans/{lead.loan_id}", token=self.tokens[self.ops])
        for line in loan["schedule"]:
            left = round(line["amount"] - line["paid_amount"], 2)
            if left > 0:
                self.repay(lead, line["installment"], left)
        self.counts.settled += 1


def _poisson(rng: random.Random, rate: float) -> int:
    count, threshold, product = 0, pow(2.718281828459045, -rate), rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, min(day.day, 28))


def _stream(content: bytes) -> Any:
    import io

    return io.BytesIO(content)
