"""Importing existing customers and leads from the Excel or CSV files firms keep today.

An admin uploads a file: it is sealed under a key of its own and queued. The worker's import loop runs a dry
run (every row parsed, deduplicated against the file and the customer master) and writes a report; on commit it
creates the good rows, each in its own transaction (a failing row never leaves half a row), updating the
progress as it goes. Source files and reports are encrypted, and both expire (then they are deleted).
"""

from __future__ import annotations

import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
import structlog

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import Conflict, DomainError, InvalidInput, NotFound, Unavailable
from loanbridge.common.runtime import Runtime
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.intake import orm
from loanbridge.intake.config import IntakeConfig
from loanbridge.intake.domain.import_report import EXISTING_CUSTOMER_REASON, ImportOutcome, ReportRow, write_report
from loanbridge.intake.domain.imports import (
    FieldError,
    ImportFileError,
    ParsedRow,
    dedupe_within_file,
    open_source,
    parse_row,
)
from loanbridge.intake.handlers.leads import submit_lead
from loanbridge.intake.storage import DocumentStore, open_sealed, seal

log = structlog.get_logger(__name__)

RETENTION = timedelta(days=7)
PROGRESS_EVERY = 200
COMMIT_THREADS = 4
POLL_SECONDS = 1.0
SOURCE, REPORT = "import-source", "import-report"
# Leads taken from a dated row are set at this business time of that day.
IMPORTED_AT = time(9, 0)


class Status:
    QUEUED = "queued"  # dry run waiting
    DRY_RUN = "dry_run"
    READY = "ready"  # dry run done: report ready, commit possible
    COMMITTING = "committing"
    COMMITTED = "committed"
    FAILED = "failed"
    EXPIRED = "expired"


def _store(config: IntakeConfig) -> DocumentStore:
    if config.documents is None:
        raise Unavailable("文件存储未配置", code="storage_unavailable")
    return config.documents


# --- HTTP side --------------------------------------------------------------------------------------------------
def start_import(
    uow: UnitOfWork,
    *,
    config: IntakeConfig,
    principal: Principal,
    filename: str,
    content: bytes,
    default_channel: str | None,
    default_city: str | None,
) -> dict[str, Any]:
    """Accept a file for a dry run: its header is checked now, the rows by the worker."""
    try:
        open_source(filename, content)
    except ImportFileError as exc:
        raise InvalidInput.for_field("file", str(exc)) from exc
    if default_city is not None and default_city not in config.cities:
        raise InvalidInput.for_field("default_city", "城市不在服务范围内")
    if default_channel is not None:
        channel = orm.channel_by_code(uow.session, default_channel)
        if channel is None or not channel.active:
            raise InvalidInput.for_field("default_channel", "渠道不存在或已停用")
    import_id, key = str(uuid.uuid4()), os.urandom(32)
    source_key = f"imports/{import_id}/source"
    _store(config).put(source_key, seal(_named(filename, content), key, f"{import_id}:{SOURCE}"))
    now = naive_utc(clock.now())
    row = {
        "id": import_id,
        "created_by": principal.subject,
        "created_at": now,
        "status": Status.QUEUED,
        "source_key": source_key,
        "report_key": None,
        "rows_total": 0,
        "rows_new": 0,
        "rows_linked": 0,
        "rows_rejected": 0,
        "rows_done": 0,
        "expires_at": now + RETENTION,
        "key_wrapped": config.vault.kek.wrap(key, import_id),
        "kek_id": config.vault.kek.id,
        "default_channel": default_channel,
        "default_city": default_city,
    }
    uow.session.execute(orm.imports.insert(), row)
    return import_answer(row)


def request_commit(uow: UnitOfWork, *, principal: Principal, import_id: str) -> dict[str, Any]:
    """Create the rows the dry run accepted (in the background; the import shows the progress)."""
    row = _import(uow, import_id, for_update=True)
    if row.status != Status.READY:
        raise Conflict("只有完成试导入的文件才能正式导入", code="import_not_ready")
    uow.session.execute(
        orm.imports.update().where(orm.imports.c.id == import_id).values(status=Status.COMMITTING, rows_done=0)
    )
    uow.audit(actor=principal.subject, action="commit_import", resource=f"import:{import_id}")
    return import_answer({**row._mapping, "status": Status.COMMITTING, "rows_done": 0})


def read_import(uow: UnitOfWork, *, import_id: str) -> dict[str, Any]:
    return import_answer(_import(uow, import_id)._mapping)


def report_file(uow: UnitOfWork, *, config: IntakeConfig, principal: Principal, import_id: str) -> bytes:
    """The latest report (.xlsx), decrypted for the admin who asks; audited."""
    row = _import(uow, import_id)
    if row.report_key is None or row.status == Status.EXPIRED:
        raise NotFound("报告尚未生成或已过期")
    uow.audit(actor=principal.subject, action="download_import_report", resource=f"import:{import_id}")
    return open_sealed(_store(config).get(row.report_key), _key(config, row), f"{import_id}:{REPORT}")


def import_answer(row: Any) -> dict[str, Any]:
    data = dict(row)
    total, done = data["rows_total"], data["rows_done"]
    return {
        "id": data["id"],
        "status": data["status"],
        "rows_total": total,
        "rows_new": data["rows_new"],
        "rows_linked": data["rows_linked"],
        "rows_rejected": data["rows_rejected"],
        "rows_done": done,
        "progress": round(done / total, 3) if total else 0.0,
        "error": data.get("error"),
        "created_by": data["created_by"],
        "created_at": clock.as_utc(data["created_at"]),
        "expires_at": clock.as_utc(data["expires_at"]),
    }


def _import(uow: UnitOfWork, import_id: str, *, for_update: bool = False) -> Any:
    query = sa.select(orm.imports).where(orm.imports.c.id == import_id)
    row = uow.session.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise NotFound("导入任务不存在")
    return row


def _key(config: IntakeConfig, row: Any) -> bytes:
    kek = config.vault.keks.get(row.kek_id)
    if kek is None:
        raise Unavailable("导入文件的密钥已轮换,请重新上传", code="import_key_rotated")
    return kek.unwrap(row.key_wrapped, row.id)


def rewrap_import_keys(uow: UnitOfWork, *, config: IntakeConfig) -> int:
    """Re-wrap the keys of imports still under a previous KEK (a batch); returns how many."""
    imports = orm.imports
    rows = uow.session.execute(
        sa.select(imports.c.id, imports.c.key_wrapped, imports.c.kek_id)
        .where(imports.c.kek_id != config.vault.kek.id)
        .limit(500)
        .with_for_update()
    ).all()
    for row in rows:
        key = _key(config, row)
        uow.session.execute(
            imports.update()
            .where(imports.c.id == row.id)
            .values(key_wrapped=config.vault.kek.wrap(key, row.id), kek_id=config.vault.kek.id)
        )
    return len(rows)


def _named(filename: str, content: bytes) -> bytes:
    return filename.encode()[:200].ljust(200, b"\0") + content


def _unnamed(blob: bytes) -> tuple[str, bytes]:
    return blob[:200].rstrip(b"\0").decode(), blob[200:]


# --- the worker's import loop -----------------------------------------------------------------------------------
def import_loop(runtime: Runtime, stop: threading.Event) -> None:
    """Run queued dry runs and commits, and expire old files, until ``stop`` is set."""
    while not stop.is_set():
        try:
            worked = run_next(runtime)
            expire_old(runtime)
        except Exception as exc:  # one import's trouble must not stop the others; it is marked failed below
            log.error("import_loop_error", error=type(exc).__name__, exc_info=exc)
            worked = False
        if not worked:
            stop.wait(POLL_SECONDS)


def run_next(runtime: Runtime) -> bool:
    """Take the oldest queued dry run or commit and run it; False when there is none."""
    claimed = runtime.transaction(_claim_next)
    if claimed is None:
        return False
    import_id, status = claimed
    try:
        if status == Status.DRY_RUN:
            dry_run(runtime, import_id)
        else:
            commit(runtime, import_id)
    except (ImportFileError, DomainError) as exc:
        runtime.transaction(_fail, import_id=import_id, error=str(getattr(exc, "message", exc))[:200])
    return True


def _claim_next(uow: UnitOfWork) -> tuple[str, str] | None:
    imports = orm.imports
    row = uow.session.execute(
        sa.select(imports.c.id, imports.c.status)
        .where(imports.c.status.in_([Status.QUEUED, Status.COMMITTING]))
        .order_by(imports.c.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if row is None:
        return None
    if row.status == Status.QUEUED:
        uow.session.execute(imports.update().where(imports.c.id == row.id).values(status=Status.DRY_RUN))
        return row.id, Status.DRY_RUN
    return row.id, Status.COMMITTING


def _fail(uow: UnitOfWork, *, import_id: str, error: str) -> None:
    uow.session.execute(
        orm.imports.update().where(orm.imports.c.id == import_id).values(status=Status.FAILED, error=error)
    )


def _parsed_rows(runtime: Runtime, row: Any) -> list[ParsedRow]:
    config: IntakeConfig = runtime.config
    filename, content = _unnamed(open_sealed(_store(config).get(row.source_key), _key(config, row),
                                             f"{row.id}:{SOURCE}"))  # fmt: skip
    _layout, rows = open_source(filename, content)
    with runtime.database.session() as session:
        channels = {
            **{r.code: r.code for r in session.execute(sa.select(orm.channels.c.code))},
            **{r.name: r.code for r in session.execute(sa.select(orm.channels.c.name, orm.channels.c.code))},
        }
        products = {r.code: r.name for r in session.execute(sa.select(orm.products.c.code, orm.products.c.name))}
        staff = _staff_by_name(session)
    parsed = [
        _with_city_and_channel(
            parse_row(source, cities=config.cities, products=products, channels_by_name_or_code=channels,
                      staff_by_name=staff, default_channel=row.default_channel, default_city=row.default_city)
        )
        for source in rows
    ]  # fmt: skip
    return dedupe_within_file(parsed)


def _with_city_and_channel(item: ParsedRow) -> ParsedRow:
    """Every lead has a city and a channel: a row with neither in the file nor a default for the upload is
    rejected here, so the dry run and the commit agree (the commit could not create it)."""
    candidate = item.candidate
    if candidate is None:
        return item
    missing = [
        FieldError(name, reason)
        for name, value, reason in (
            ("channel", candidate.channel, "缺少渠道,请在文件中填写,或导入时选择默认渠道"),
            ("city", candidate.city, "缺少城市,请在文件中填写,或导入时选择默认城市"),
        )
        if value is None
    ]
    return replace(item, candidate=None, errors=tuple(missing)) if missing else item


def _staff_by_name(session: Any) -> dict[str, str]:
    """Active staff by display name; a name two people share is left out (the row must name them otherwise)."""
    found: dict[str, list[str]] = {}
    for member in session.execute(sa.select(orm.staff).where(orm.staff.c.active.is_(True))):
        found.setdefault(member.display_name, []).append(member.user_id)
    return {name: ids[0] for name, ids in found.items() if len(ids) == 1}


def dry_run(runtime: Runtime, import_id: str) -> None:
    """Decide each row (create, link to an existing customer, reject) and write the report."""
    config: IntakeConfig = runtime.config
    with runtime.database.session() as session:
        row = session.execute(sa.select(orm.imports).where(orm.imports.c.id == import_id)).one()
    parsed = _parsed_rows(runtime, row)
    report = []
    with runtime.database.session() as session:
        for item in parsed:
            report.append(_dry_run_row(session, config, item))
    _save_report(runtime, row, report, status=Status.READY)


def _dry_run_row(session: Any, config: IntakeConfig, item: ParsedRow) -> ReportRow:
    if not item.ok or item.duplicate_of is not None or item.candidate is None:
        return ReportRow.from_parsed(item)
    candidate = item.candidate
    existing = orm.customer_by_indexes(
        session,
        id_number_bidx=config.blind_index.of("id_number", candidate.id_number) if candidate.id_number else None,
        mobile_bidx=config.blind_index.of("mobile", candidate.mobile) if candidate.mobile else None,
    )
    if existing is not None:
        return ReportRow.from_parsed(item, outcome=ImportOutcome.WILL_LINK, reason=EXISTING_CUSTOMER_REASON)
    return ReportRow.from_parsed(item)


def commit(runtime: Runtime, import_id: str) -> None:
    """Create each accepted row as a lead (idempotent per row: a rerun after a crash creates nothing twice)."""
    with runtime.database.session() as session:
        row = session.execute(sa.select(orm.imports).where(orm.imports.c.id == import_id)).one()
    parsed = _parsed_rows(runtime, row)
    outcomes: dict[int, ReportRow] = {}
    # Rows of different people are independent and written side by side (their database round trips overlap);
    # a later row of a person already in the file waits for the first, so it links to that customer.
    firsts = [item for item in parsed if item.duplicate_of is None]
    repeats = [item for item in parsed if item.duplicate_of is not None]
    with ThreadPoolExecutor(max_workers=COMMIT_THREADS, thread_name_prefix="import") as pool:
        for done, (item, outcome) in enumerate(
            zip(firsts, pool.map(lambda item: _commit_row(runtime, row, item), firsts), strict=True), start=1
        ):
            outcomes[item.row_number] = outcome
            if done % PROGRESS_EVERY == 0:
                runtime.transaction(_progress, import_id=import_id, done=done)
    for item in repeats:
        outcomes[item.row_number] = _commit_row(runtime, row, item)
    _save_report(runtime, row, [outcomes[item.row_number] for item in parsed], status=Status.COMMITTED)


def _commit_row(runtime: Runtime, row: Any, item: ParsedRow) -> ReportRow:
    if not item.ok or item.candidate is None:
        return ReportRow.from_parsed(item)
    candidate = item.candidate
    submitter = candidate.salesperson_id or row.created_by
    lead = {
        "name": candidate.name,
        "mobile": candidate.mobile,
        "id_number": candidate.id_number,
        "city": candidate.city,
        "product": candidate.product,
        "amount": candidate.amount,
        "term_months": candidate.term_months,
        "purpose": candidate.purpose,
        "channel": candidate.channel,
        "external_ref": f"import-{row.id}-{item.row_number}",
        "form": {},
    }
    occurred_at = (
        datetime.combine(candidate.business_date, IMPORTED_AT, tzinfo=clock.business_timezone())
        if candidate.business_date
        else None
    )
    try:
        answer = runtime.transaction(
            submit_lead,
            config=runtime.config,
            principal=Principal(subject=submitter, roles=frozenset({"sales"})),
            lead={key: value for key, value in lead.items() if value is not None},
            idempotency_key=None,
            occurred_at=occurred_at,
        )
    except DomainError as exc:
        return ReportRow.from_parsed(item, outcome=ImportOutcome.REJECTED, reason=exc.message)
    created = answer.body["duplicate_outcome"] == "new_customer"
    return ReportRow.from_parsed(item, outcome=ImportOutcome.CREATED if created else ImportOutcome.LINKED)


def _progress(uow: UnitOfWork, *, import_id: str, done: int) -> None:
    uow.session.execute(orm.imports.update().where(orm.imports.c.id == import_id).values(rows_done=done))


def _save_report(runtime: Runtime, row: Any, report: list[ReportRow], *, status: str) -> None:
    config: IntakeConfig = runtime.config
    report_key = f"imports/{row.id}/report"
    _store(config).put(report_key, seal(write_report(report), _key(config, row), f"{row.id}:{REPORT}"))
    outcomes = [item.outcome for item in report]
    counts = {
        "rows_total": len(report),
        "rows_new": sum(o in (ImportOutcome.WILL_CREATE, ImportOutcome.CREATED) for o in outcomes),
        "rows_linked": sum(o in (ImportOutcome.WILL_LINK, ImportOutcome.LINKED) for o in outcomes),
        "rows_rejected": sum(o == ImportOutcome.REJECTED for o in outcomes),
    }
    runtime.transaction(
        lambda uow: uow.session.execute(
            orm.imports.update()
            .where(orm.imports.c.id == row.id)
            .values(status=status, report_key=report_key, rows_done=len(report), **counts)
        )
    )
    log.info("import_finished", import_id=row.id, status=status, **counts)


def expire_old(runtime: Runtime) -> int:
    """Delete the files of imports past their retention; the record stays, marked expired."""
    config: IntakeConfig = runtime.config
    now = naive_utc(clock.now())
    with runtime.database.session() as session:
        due = session.execute(
            sa.select(orm.imports.c.id, orm.imports.c.source_key, orm.imports.c.report_key).where(
                orm.imports.c.expires_at < now, orm.imports.c.status != Status.EXPIRED
            )
        ).all()
    for item in due:
        for key in filter(None, (item.source_key, item.report_key)):
            _store(config).delete(key)
        runtime.transaction(
            lambda uow, import_id=item.id: uow.session.execute(
                orm.imports.update().where(orm.imports.c.id == import_id).values(status=Status.EXPIRED)
            )
        )
    return len(due)
