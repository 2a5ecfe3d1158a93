"""Customer documents at rest: content checks, sealing and the object stores that keep the sealed bytes.

An upload is judged by its bytes, never by its name: only PDF, JPEG and PNG pass, up to a configured size
(``LOANBRIDGE_INTAKE_MAX_DOCUMENT_MB``). The caller seals the content under the customer's key, bound to the
document id (associated data), so a blob copied under another id does not open; a sealed blob reads
``0x01 | nonce (12) | ciphertext | tag (16)``. The sealed blob goes to a ``DocumentStore``: a folder in the
embedded mode (``LocalStore``) or an S3-compatible bucket, MinIO in a private deployment (``S3Store``).
``LOANBRIDGE_INTAKE_DOCUMENT_STORE`` picks one (``store_from_settings``). An S3 store that cannot be reached
raises ``StorageUnavailable`` (a 503 for callers); a key that is not there raises ``DocumentNotFound``.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from loanbridge.common.config import PREFIX, ConfigError, Env
from loanbridge.common.errors import InvalidInput, NotFound, Unavailable
from loanbridge.common.pii.crypto import DecryptionError

# --- content checks ---------------------------------------------------------------------------------------

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"

# Signatures at offset 0. A PDF may in theory carry junk before %PDF-; we accept only the clean form.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", PDF),
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
)

MB = 1024 * 1024
DEFAULT_MAX_DOCUMENT_MB = 20
UNSUPPORTED_TYPE = "仅支持 PDF、JPEG、PNG 文件"


def sniff_document_type(head: bytes) -> str | None:
    """The media type the first bytes of a file show (PDF, JPEG or PNG), or None for anything else.

    Decided by content alone: an executable, an archive or a web page named ``征信报告.pdf`` is None.
    """
    for signature, media_type in _SIGNATURES:
        if head.startswith(signature):
            return media_type
    return None


def check_upload(content: bytes, *, max_bytes: int) -> str:
    """The media type of an acceptable upload; ``InvalidInput`` on field ``file`` if empty, too large or not
    a PDF, JPEG or PNG."""
    if not content:
        raise InvalidInput.for_field("file", "文件为空")
    if len(content) > max_bytes:
        raise InvalidInput.for_field("file", f"文件大小超过 {_megabytes(max_bytes)} MB 的上限")
    media_type = sniff_document_type(content[:16])
    if media_type is None:
        raise InvalidInput.for_field("file", UNSUPPORTED_TYPE)
    return media_type


def _megabytes(size: int) -> str:
    value = size / MB
    return str(int(value)) if value == int(value) else f"{value:.1f}"


def max_document_bytes(env: Env | None = None) -> int:
    """The largest upload accepted, in bytes (``LOANBRIDGE_INTAKE_MAX_DOCUMENT_MB``, default 20)."""
    env = env or Env()
    megabytes = env.integer("INTAKE_MAX_DOCUMENT_MB", DEFAULT_MAX_DOCUMENT_MB)
    if megabytes <= 0:
        raise ConfigError(f"{PREFIX}INTAKE_MAX_DOCUMENT_MB must be a positive number of megabytes, got {megabytes}")
    return megabytes * MB


# --- sealing ----------------------------------------------------------------------------------------------

SEAL_VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32


class SealedDocumentError(DecryptionError):
    """A sealed document does not open: wrong key, wrong document id, tampered, truncated or unknown format."""


def _associated_data(version: int, document_id: str) -> bytes:
    if not document_id:
        raise ValueError("a document id is required to seal or open a document")
    return b"loanbridge-document\x00" + bytes([version]) + document_id.encode()


def _cipher(key: bytes) -> AESGCM:
    if len(key) != KEY_BYTES:
        raise ValueError(f"a document key must be {KEY_BYTES} bytes (AES-256), got {len(key)}")
    return AESGCM(key)


def seal(content: bytes, key: bytes, document_id: str) -> bytes:
    """``content`` encrypted under ``key`` (AES-256-GCM, random nonce) and bound to ``document_id``."""
    cipher = _cipher(key)
    nonce = os.urandom(NONCE_BYTES)
    sealed = cipher.encrypt(nonce, content, _associated_data(SEAL_VERSION, document_id))
    return bytes([SEAL_VERSION]) + nonce + sealed


def open_sealed(blob: bytes, key: bytes, document_id: str) -> bytes:
    """The content of a blob ``seal`` made with the same key and document id; ``SealedDocumentError`` if not."""
    cipher = _cipher(key)
    if len(blob) < 1 + NONCE_BYTES + TAG_BYTES:
        raise SealedDocumentError("sealed document is truncated")
    version = blob[0]
    if version != SEAL_VERSION:
        raise SealedDocumentError(f"unknown sealed document version {version}")
    nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return cipher.decrypt(nonce, sealed, _associated_data(version, document_id))
    except InvalidTag as exc:
        raise SealedDocumentError("sealed document does not open with this key and document id") from exc


# --- stores -----------------------------------------------------------------------------------------------


class StorageUnavailable(Unavailable):
    """The document store cannot be reached or refused the request; callers answer 503 and may retry."""

    code = "storage_unavailable"
    message = "文件存储暂时不可用,请稍后重试"


class DocumentNotFound(NotFound):
    """No object under this key."""

    code = "document_not_found"
    message = "文件不存在"


class InvalidStorageKey(ValueError):
    """A key that is not a plain relative path of safe segments (the service names objects, users never do)."""


_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
MAX_KEY_LENGTH = 512


def validate_key(key: str) -> str:
    """``key`` if it is ``segment[/segment...]`` of letters, digits, ``._-`` (no segment starts with a dot, so
    no ``..`` and no hidden files); otherwise ``InvalidStorageKey``. Absolute paths, backslashes and empty
    segments are refused."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidStorageKey(f"invalid storage key {key!r}")
    for segment in key.split("/"):
        if not _SEGMENT.fullmatch(segment):
            raise InvalidStorageKey(f"invalid storage key {key!r}")
    return key


@runtime_checkable
class DocumentStore(Protocol):
    """Where sealed document blobs live, by key (e.g. ``<customer id>/<document id>``)."""

    def put(self, key: str, blob: bytes) -> None:
        """Store ``blob`` under ``key``, replacing what was there."""

    def get(self, key: str) -> bytes:
        """The blob under ``key``; ``DocumentNotFound`` if none."""

    def delete(self, key: str) -> None:
        """Remove the blob under ``key``; no error if there is none."""

    def exists(self, key: str) -> bool:
        """Whether a blob is stored under ``key``."""


class LocalStore:
    """Blobs as files under ``root`` (the embedded mode); a write is atomic (temporary file, then rename)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        path = self.root / validate_key(key)
        # The key is clean; a symlink inside the root must not lead outside it either.
        root = self.root.resolve()
        if not path.resolve().is_relative_to(root):
            raise InvalidStorageKey(f"storage key {key!r} leads outside the store")
        return path

    def put(self, key: str, blob: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Temporary names start with a dot: no valid key names them, so they are never read as a document.
            fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as file:
                    file.write(blob)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            _fsync_directory(path.parent)
        except OSError as exc:
            raise StorageUnavailable() from exc

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise DocumentNotFound() from exc
        except OSError as exc:
            raise StorageUnavailable() from exc

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except (IsADirectoryError, NotADirectoryError):
            return
        except OSError as exc:
            raise StorageUnavailable() from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable (POSIX); platforms that cannot open a directory skip it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_NO_BUCKET_CODES = frozenset({"404", "NoSuchBucket", "NotFound"})
_BUCKET_EXISTS_CODES = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})


class S3Store:
    """Blobs as objects in an S3-compatible bucket (MinIO in production), under ``prefix``.

    Nothing connects until the first call: the client is built then, once, and shared by threads (boto3
    clients are thread-safe). Path-style addressing, as MinIO expects; timeouts and retries from arguments.
    Every failure to reach the store or to be served by it is a ``StorageUnavailable``.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        prefix: str = "documents/",
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_attempts: int = 3,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 bucket name is required")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_attempts = max_attempts
        self._access_key = access_key
        self._secret_key = secret_key
        self._client: BaseClient | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # no credentials
        return f"S3Store(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r}, prefix={self.prefix!r})"

    @property
    def client(self) -> BaseClient:
        """The boto3 S3 client, built on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._build_client()
        return self._client

    def _build_client(self) -> BaseClient:
        config = Config(
            region_name=self.region,
            signature_version="s3v4",
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"max_attempts": self.max_attempts, "mode": "standard"},
            s3={"addressing_style": "path"},
            # boto3 >= 1.36 adds CRC checksums to every upload by default, which some S3-compatible servers
            # refuse; the sealed blob carries its own authentication tag, so checksums only where required.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = boto3.session.Session(
            aws_access_key_id=self._access_key,
            aws_secret_access_key=self._secret_key,
            region_name=self.region,
        )
        return session.client("s3", endpoint_url=self.endpoint_url, config=config)

    def _object_key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (setup; safe to run from several processes at once)."""
        with _mapped_errors():
            try:
                self.client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as exc:
                if _error_code(exc) not in _NO_BUCKET_CODES:
                    raise
            arguments: dict[str, Any] = {"Bucket": self.bucket}
            if self.region != "us-east-1":
                arguments["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            try:
                self.client.create_bucket(**arguments)
            except ClientError as exc:
                if _error_code(exc) not in _BUCKET_EXISTS_CODES:
                    raise

    def put(self, key: str, blob: bytes) -> None:
        object_key = self._object_key(key)
        with _mapped_errors():
            self.client.put_object(
                Bucket=self.bucket, Key=object_key, Body=blob, ContentType="application/octet-stream"
            )

    def get(self, key: str) -> bytes:
        object_key = self._object_key(key)
        with _mapped_errors():
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=object_key)
            except ClientError as exc:
                if _error_code(exc) in _NOT_FOUND_CODES:
                    raise DocumentNotFound() from exc
                raise
            body = response["Body"]
            try:
                return body.read()
            finally:
                body.close()

    def delete(self, key: str) -> None:
        object_key = self._object_key(key)
        with _mapped_errors():
            self.client.delete_object(Bucket=self.bucket, Key=object_key)

    def exists(self, key: str) -> bool:
        object_key = self._object_key(key)
        with _mapped_errors():
            try:
                self.client.head_object(Bucket=self.bucket, Key=object_key)
            except ClientError as exc:
                if _error_code(exc) in _NOT_FOUND_CODES:
                    return False
                raise
            return True


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


@contextmanager
def _mapped_errors() -> Iterator[None]:
    """Turns botocore's failures (connection, timeout, credentials, an error answer) into StorageUnavailable;
    domain errors raised inside (DocumentNotFound) pass through."""
    try:
        yield
    except (BotoCoreError, ClientError) as exc:  # the cause stays chained for the logs, not for the caller
        raise StorageUnavailable() from exc


def store_from_settings(env: Env, *, var_dir: Path | str) -> DocumentStore:
    """The configured store: ``LOANBRIDGE_INTAKE_DOCUMENT_STORE`` = ``local`` (default, ``<var_dir>/documents``)
    or ``s3`` (``LOANBRIDGE_INTAKE_S3_BUCKET``, ``_ACCESS_KEY`` and ``_SECRET_KEY`` required, no defaults;
    ``_ENDPOINT_URL``, ``_REGION`` (us-east-1) and ``_PREFIX`` (documents/) optional)."""
    kind = (env.get("INTAKE_DOCUMENT_STORE", "local") or "local").strip().lower()
    if kind == "local":
        return LocalStore(Path(var_dir) / "documents")
    if kind == "s3":
        return S3Store(
            env.require("INTAKE_S3_BUCKET"),
            endpoint_url=env.get("INTAKE_S3_ENDPOINT_URL"),
            region=env.get("INTAKE_S3_REGION", "us-east-1") or "us-east-1",
            access_key=env.require("INTAKE_S3_ACCESS_KEY"),
            secret_key=env.require("INTAKE_S3_SECRET_KEY"),
            prefix=env.get("INTAKE_S3_PREFIX", "documents/") or "documents/",
        )
    raise ConfigError(f"{PREFIX}INTAKE_DOCUMENT_STORE must be 'local' or 's3', got {kind!r}")
