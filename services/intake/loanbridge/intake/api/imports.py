"""Imports from Excel or CSV: upload for a dry run, read the progress and the report, then commit."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.common.errors import InvalidInput
from loanbridge.intake.api.schemas import ImportSchema
from loanbridge.intake.handlers import imports

blp = Blueprint("imports", __name__, url_prefix="/api/intake/v1", description="Imports from Excel and CSV")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UPLOAD_BODY = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": ".xlsx or .csv"},
                    "default_channel": {"type": "string", "description": "channel of rows that name none"},
                    "default_city": {"type": "string", "description": "city of rows that name none"},
                },
                "required": ["file"],
            }
        }
    }
}


@blp.route("/imports")
class Imports(MethodView):
    @requires("admin")
    @blp.doc(requestBody=UPLOAD_BODY)
    @blp.response(202, ImportSchema)
    def post(self) -> dict[str, Any]:
        """Upload a file for a dry run (in the background): every row is checked, nothing is created yet."""
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise InvalidInput.for_field("file", "请上传 .xlsx 或 .csv 文件")
        runtime = runtimes.current()
        return runtime.transaction(
            imports.start_import,
            config=runtime.config,
            principal=current_principal(),
            filename=upload.filename,
            content=upload.read(),
            default_channel=request.form.get("default_channel") or None,
            default_city=request.form.get("default_city") or None,
        )


@blp.route("/imports/<import_id>")
class Import(MethodView):
    @requires("admin")
    @blp.response(200, ImportSchema)
    def get(self, import_id: str) -> dict[str, Any]:
        """An import's status, counts and progress."""
        return runtimes.current().transaction(imports.read_import, import_id=import_id)


@blp.route("/imports/<import_id>/commit")
class CommitImport(MethodView):
    @requires("admin")
    @blp.response(202, ImportSchema)
    def post(self, import_id: str) -> dict[str, Any]:
        """Create the rows the dry run accepted (in the background); each row is written whole or not at all."""
        return runtimes.current().transaction(
            imports.request_commit, principal=current_principal(), import_id=import_id
        )


@blp.route("/imports/<import_id>/report.xlsx")
class ImportReport(MethodView):
    @requires("admin")
    @blp.response(200, {"format": "binary", "type": "string"}, content_type=XLSX)
    def get(self, import_id: str) -> Response:
        """The per-row report of the dry run (or of the commit, once done), as .xlsx; personal data masked."""
        runtime = runtimes.current()
        content = runtime.transaction(
            imports.report_file, config=runtime.config, principal=current_principal(), import_id=import_id
        )
        return Response(
            content,
            content_type=XLSX,
            headers={
                "Content-Disposition": f'attachment; filename="import-{import_id}.xlsx"',
                "Cache-Control": "no-store",
            },
        )
