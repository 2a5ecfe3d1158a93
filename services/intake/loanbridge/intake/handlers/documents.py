"""Documents of a lead (credit reports, bank statements, asset proofs, ID photos): type checked by content, sealed
with the customer's key and stored in object storage; every download is authorised and audited."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import Conflict, NotFound, Unavailable
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.intake import orm, views
from loanbridge.intake.config import IntakeConfig
from loanbridge.intake.domain.forms import DOCUMENT_TYPES
from loanbridge.intake.storage import DocumentStore, check_upload, open_sealed, seal


@dataclass(frozen=True)
class Download:
    filename: str
    content_type: str
    content: bytes


def _store(config: IntakeConfig) -> DocumentStore:
    if config.documents is None:
        raise Unavailable("文件存储未配置", code="storage_unavailable")
    return config.documents


def upload_document(
    uow: UnitOfWork,
    *,
    config: IntakeConfig,
    principal: Principal,
    lead_id: str,
    doc_type: str,
    content: bytes,
) -> dict[str, Any]:
    """Keep a document for a lead in the caller's scope, sealed with the customer's key."""
    lead = orm.lead_by_id(uow.session, lead_id)
    if lead is None or not views.lead_in_scope(uow, principal, lead):
        raise NotFound("线索不存在")
    content_type = check_upload(content, max_bytes=config.max_document_bytes)
    key = config.vault.key_for_sealing(uow.session, lead.customer_id)
    if key is None:
        raise Conflict("该客户的个人信息已删除,不能再上传材料", code="customer_erased")
    document_id = str(uuid.uuid4())
    storage_key = f"{lead.customer_id}/{document_id}"
    row = {
        "id": document_id,
        "lead_id": lead_id,
        "customer_id": lead.customer_id,
        "doc_type": doc_type,
        "content_type": content_type,
        "size_bytes": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "storage_key": storage_key,
        "uploaded_by": principal.subject,
        "uploaded_at": naive_utc(clock.now()),
    }
    # Stored before the row commits: a failed commit leaves an unreferenced blob, never a row without its file.
    _store(config).put(storage_key, seal(content, key.key, document_id))
    uow.session.execute(orm.documents.insert(), row)
    uow.emit(
        "intake.document.uploaded",
        subject=lead_id,
        data={"lead_id": lead_id, "document_id": document_id, "doc_type": doc_type},
    )
    return views.document_answer(orm.document_by_id(uow.session, document_id))


def download_document(uow: UnitOfWork, *, config: IntakeConfig, principal: Principal, document_id: str) -> Download:
    """A document's bytes for someone who may see its lead (partners: their own leads); audited."""
    row = orm.document_by_id(uow.session, document_id)
    lead = orm.lead_by_id(uow.session, row.lead_id) if row else None
    if row is None or lead is None or row.erased_at is not None or not views.lead_in_scope(uow, principal, lead):
        raise NotFound("材料不存在")
    key = config.vault.key(uow.session, row.customer_id)
    if key is None:
        raise NotFound("材料不存在")
    content = open_sealed(_store(config).get(row.storage_key), key.key, document_id)
    uow.audit(actor=principal.subject, action="download_document", resource=f"document:{document_id}")
    extension = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}[row.content_type]
    return Download(f"{DOCUMENT_TYPES.get(row.doc_type, 'document')}.{extension}", row.content_type, content)
