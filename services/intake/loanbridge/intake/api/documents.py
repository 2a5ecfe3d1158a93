"""Documents: upload (multipart, type checked by content) and authorised, audited download."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, request
from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.common.errors import InvalidInput
from loanbridge.intake.api.schemas import DocumentSchema
from loanbridge.intake.domain.forms import DOCUMENT_TYPES
from loanbridge.intake.handlers import documents

blp = Blueprint("documents", __name__, url_prefix="/api/intake/v1", description="Documents")

UPLOAD_BODY = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "doc_type": {"type": "string", "enum": list(DOCUMENT_TYPES)},
                },
                "required": ["file", "doc_type"],
            }
        }
    }
}


def _upload() -> tuple[str, bytes]:
    doc_type = request.form.get("doc_type", "")
    if doc_type not in DOCUMENT_TYPES:
        raise InvalidInput.for_field("doc_type", "材料类型无效")
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput.for_field("file", "请上传文件")
    return doc_type, upload.read()


@blp.route("/leads/<lead_id>/documents")
class LeadDocuments(MethodView):
    @requires("partner", "sales", "manager", "admin", "risk_officer", "risk_director")
    @blp.doc(requestBody=UPLOAD_BODY)
    @blp.response(201, DocumentSchema)
    def post(self, lead_id: str) -> dict[str, Any]:
        """Upload a document (PDF, JPEG or PNG, by content) for a lead."""
        doc_type, content = _upload()
        runtime = runtimes.current()
        return runtime.transaction(
            documents.upload_document,
            config=runtime.config,
            principal=current_principal(),
            lead_id=lead_id,
            doc_type=doc_type,
            content=content,
        )


@blp.route("/documents/<document_id>/content")
class DocumentContent(MethodView):
    @requires("partner", "sales", "manager", "admin", "risk_officer", "risk_director")
    @blp.response(200, {"format": "binary", "type": "string"}, content_type="application/octet-stream")
    def get(self, document_id: str) -> Response:
        """Download a document (audited)."""
        runtime = runtimes.current()
        download = runtime.transaction(
            documents.download_document, config=runtime.config, principal=current_principal(), document_id=document_id
        )
        return Response(
            download.content,
            content_type=download.content_type,
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(download.filename)}",
                "Cache-Control": "no-store",
            },
        )
