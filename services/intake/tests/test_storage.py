"""Document storage: type by content, size limit, sealing, the local folder store and the S3 store against a
real S3-compatible server (moto's, in this process, on a free local port)."""

from __future__ import annotations

import socket
import struct
import time
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from loanbridge.common.config import ConfigError, Env
from loanbridge.common.errors import InvalidInput, NotFound, Unavailable
from loanbridge.common.pii.crypto import DecryptionError
from loanbridge.common.testing.synthetic import minimal_pdf
from loanbridge.intake import storage
from loanbridge.intake.storage import (
    DocumentNotFound,
    DocumentStore,
    InvalidStorageKey,
    LocalStore,
    S3Store,
    SealedDocumentError,
    StorageUnavailable,
    check_upload,
    max_document_bytes,
    open_sealed,
    seal,
    sniff_document_type,
    store_from_settings,
)

MB = 1024 * 1024


# --- real file headers ------------------------------------------------------------------------------------


def tiny_png() -> bytes:
    """A 1x1 white RGB PNG: signature, IHDR, IDAT, IEND with real CRCs."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def tiny_jpeg_head() -> bytes:
    """SOI followed by a JFIF APP0 segment, as a camera or scanner writes it."""
    app0 = b"JFIF\x00" + b"\x01\x01" + b"\x00" + struct.pack(">HH", 1, 1) + b"\x00\x00"
    return b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + b"\xff\xd9"


def elf_executable() -> bytes:
    """The first bytes of a 64-bit little-endian Linux ELF executable."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    return ident + struct.pack("<HHI", 2, 0x3E, 1) + bytes(48)


def test_tiny_pdf_is_well_formed() -> None:
    pdf = minimal_pdf()
    xref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert pdf[xref:].startswith(b"xref\n")
    assert pdf.endswith(b"%%EOF\n")


@pytest.mark.parametrize(
    ("content", "media_type"),
    [
        (minimal_pdf(), "application/pdf"),
        (tiny_jpeg_head(), "image/jpeg"),
        (b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00", "image/jpeg"),  # EXIF JPEG from a phone camera
        (tiny_png(), "image/png"),
    ],
    ids=["pdf", "jpeg-jfif", "jpeg-exif", "png"],
)
def test_supported_documents_are_recognised_by_content(content: bytes, media_type: str) -> None:
    assert sniff_document_type(content) == media_type
    assert check_upload(content, max_bytes=MB) == media_type


@pytest.mark.parametrize(
    "content",
    [
        elf_executable(),
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff",  # Windows PE
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00",  # zip, docx, xlsx
        b"<!DOCTYPE html><html><body>%PDF-1.4</body></html>",
        b"GIF89a\x01\x00\x01\x00",
        b" %PDF-1.4\n",  # signature not at the start
        b"%PDF",  # cut short
        b"\x89PNG",  # cut short
        b"\xff\xd8",  # cut short
        b"",
    ],
    ids=["elf", "pe", "zip", "html", "gif", "pdf-offset", "pdf-short", "png-short", "jpeg-short", "empty"],
)
def test_anything_else_is_not_a_document(content: bytes) -> None:
    assert sniff_document_type(content) is None


def test_an_executable_named_pdf_is_refused() -> None:
    filename, content = "征信报告.pdf", elf_executable() + bytes(4096)
    assert filename.endswith(".pdf")  # the name says PDF; only the bytes count

    with pytest.raises(InvalidInput) as refused:
        check_upload(content, max_bytes=MB)

    assert refused.value.status == 422
    assert refused.value.details == {"fields": {"file": ["仅支持 PDF、JPEG、PNG 文件"]}}


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_upload(b"", max_bytes=MB)

    assert refused.value.details == {"fields": {"file": ["文件为空"]}}


def test_a_file_over_the_limit_is_refused_naming_the_limit_in_mb() -> None:
    at_limit = minimal_pdf().ljust(2 * MB, b" ")
    assert check_upload(at_limit, max_bytes=2 * MB) == "application/pdf"

    with pytest.raises(InvalidInput) as refused:
        check_upload(at_limit + b" ", max_bytes=2 * MB)

    (reason,) = refused.value.details["fields"]["file"]
    assert "2 MB" in reason
    assert "超过" in reason


def test_the_size_limit_comes_from_configuration() -> None:
    assert max_document_bytes(Env({})) == 20 * MB
    assert max_document_bytes(Env({"LOANBRIDGE_INTAKE_MAX_DOCUMENT_MB": "5"})) == 5 * MB
    for bad in ("0", "-1", "lots"):
        with pytest.raises(ConfigError, match="LOANBRIDGE_INTAKE_MAX_DOCUMENT_MB"):
            max_document_bytes(Env({"LOANBRIDGE_INTAKE_MAX_DOCUMENT_MB": bad}))


# --- sealing ----------------------------------------------------------------------------------------------

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def test_a_sealed_document_opens_with_its_key_and_id() -> None:
    content = minimal_pdf()

    blob = seal(content, KEY, "doc-1")

    assert blob[0] == storage.SEAL_VERSION
    assert content not in blob
    assert len(blob) == 1 + storage.NONCE_BYTES + len(content) + storage.TAG_BYTES
    assert open_sealed(blob, KEY, "doc-1") == content


def test_each_seal_uses_a_fresh_nonce() -> None:
    assert seal(b"same", KEY, "doc-1") != seal(b"same", KEY, "doc-1")


def test_a_sealed_document_does_not_open_under_another_id_or_key() -> None:
    blob = seal(tiny_png(), KEY, "doc-1")

    with pytest.raises(SealedDocumentError, match="key and document id"):
        open_sealed(blob, KEY, "doc-2")
    with pytest.raises(SealedDocumentError, match="key and document id"):
        open_sealed(blob, OTHER_KEY, "doc-1")


@pytest.mark.parametrize("position", [0, 1, 13, -1], ids=["version", "nonce", "ciphertext", "tag"])
def test_a_tampered_blob_does_not_open(position: int) -> None:
    blob = bytearray(seal(minimal_pdf(), KEY, "doc-1"))
    blob[position] ^= 0x01

    with pytest.raises(SealedDocumentError):
        open_sealed(bytes(blob), KEY, "doc-1")


def test_a_truncated_blob_does_not_open_and_is_a_decryption_error() -> None:
    blob = seal(b"x", KEY, "doc-1")

    with pytest.raises(DecryptionError, match="truncated"):
        open_sealed(blob[:10], KEY, "doc-1")
    with pytest.raises(SealedDocumentError):
        open_sealed(blob[:-1], KEY, "doc-1")


def test_keys_must_be_256_bit_and_ids_present() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        seal(b"x", b"short", "doc-1")
    with pytest.raises(ValueError, match="document id"):
        seal(b"x", KEY, "")


# --- the local folder store -------------------------------------------------------------------------------


def test_local_store_puts_gets_and_deletes(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "documents")
    assert isinstance(store, DocumentStore)
    assert not store.exists("cust-1/doc-1")

    store.put("cust-1/doc-1", b"first")
    store.put("cust-1/doc-1", b"second")

    assert store.exists("cust-1/doc-1")
    assert store.get("cust-1/doc-1") == b"second"
    assert sorted(path.name for path in (tmp_path / "documents" / "cust-1").iterdir()) == ["doc-1"]

    store.delete("cust-1/doc-1")
    store.delete("cust-1/doc-1")  # deleting what is gone is fine

    assert not store.exists("cust-1/doc-1")
    with pytest.raises(DocumentNotFound) as missing:
        store.get("cust-1/doc-1")
    assert isinstance(missing.value, NotFound)


def test_local_store_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path)
    store.put("doc-1", b"old")

    def crash(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(storage.os, "replace", crash)
    with pytest.raises(StorageUnavailable):
        store.put("doc-1", b"new")
    monkeypatch.undo()

    assert store.get("doc-1") == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["doc-1"]  # no temporary file left behind


@pytest.mark.parametrize(
    "key",
    ["../outside", "a/../../outside", "/etc/passwd", "..", ".", "a/./b", "a//b", "a/", "", "a\\..\\b", ".hidden"],
)
def test_local_store_refuses_keys_that_escape_the_root(tmp_path: Path, key: str) -> None:
    store = LocalStore(tmp_path / "root")

    for operation in (lambda: store.put(key, b"x"), lambda: store.get(key), lambda: store.exists(key)):
        with pytest.raises(InvalidStorageKey):
            operation()

    assert not (tmp_path / "outside").exists()


def test_local_store_refuses_a_symlink_leading_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    store = LocalStore(root)

    with pytest.raises(InvalidStorageKey, match="outside"):
        store.put("link/doc-1", b"x")

    assert list(outside.iterdir()) == []


# --- configuration ----------------------------------------------------------------------------------------


def test_the_default_store_is_a_folder_under_var(tmp_path: Path) -> None:
    store = store_from_settings(Env({}), var_dir=tmp_path)

    assert isinstance(store, LocalStore)
    assert store.root == tmp_path / "documents"


def test_an_s3_store_needs_its_bucket_and_secrets(tmp_path: Path) -> None:
    complete = {
        "LOANBRIDGE_INTAKE_DOCUMENT_STORE": "s3",
        "LOANBRIDGE_INTAKE_S3_BUCKET": "loanbridge-documents",
        "LOANBRIDGE_INTAKE_S3_ENDPOINT_URL": "http://minio.internal:9000",
        "LOANBRIDGE_INTAKE_S3_ACCESS_KEY": "intake",
        "LOANBRIDGE_INTAKE_S3_SECRET_KEY": "s3cr3t-value",
    }
    store = store_from_settings(Env(complete), var_dir=tmp_path)

    assert isinstance(store, S3Store)
    assert (store.bucket, store.endpoint_url, store.prefix) == (
        "loanbridge-documents",
        "http://minio.internal:9000",
        "documents/",
    )
    assert store._client is None  # nothing connects until used
    assert "s3cr3t-value" not in repr(store)

    for name in ("BUCKET", "ACCESS_KEY", "SECRET_KEY"):
        partial = {key: value for key, value in complete.items() if key != f"LOANBRIDGE_INTAKE_S3_{name}"}
        with pytest.raises(ConfigError, match=f"LOANBRIDGE_INTAKE_S3_{name}"):
            store_from_settings(Env(partial), var_dir=tmp_path)


def test_an_unknown_store_kind_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LOANBRIDGE_INTAKE_DOCUMENT_STORE"):
        store_from_settings(Env({"LOANBRIDGE_INTAKE_DOCUMENT_STORE": "ftp"}), var_dir=tmp_path)


# --- the S3 store against a real S3-compatible server -----------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_store(endpoint_url: str, bucket: str | None = None, **options: object) -> S3Store:
    return S3Store(
        bucket or f"docs-{uuid.uuid4().hex[:12]}",
        endpoint_url=endpoint_url,
        access_key="testing",
        secret_key="testing",
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def s3(s3_endpoint: str) -> S3Store:
    store = s3_store(s3_endpoint)
    store.ensure_bucket()
    return store


def test_s3_store_puts_gets_and_deletes(s3: S3Store) -> None:
    assert isinstance(s3, DocumentStore)
    assert not s3.exists("cust-1/doc-1")

    s3.put("cust-1/doc-1", b"first")
    s3.put("cust-1/doc-1", b"second")

    assert s3.exists("cust-1/doc-1")
    assert s3.get("cust-1/doc-1") == b"second"
    listed = s3.client.list_objects_v2(Bucket=s3.bucket)["Contents"]
    assert [entry["Key"] for entry in listed] == ["documents/cust-1/doc-1"]

    s3.delete("cust-1/doc-1")
    s3.delete("cust-1/doc-1")

    assert not s3.exists("cust-1/doc-1")
    with pytest.raises(DocumentNotFound):
        s3.get("cust-1/doc-1")


def test_ensure_bucket_is_idempotent(s3: S3Store, s3_endpoint: str) -> None:
    s3.ensure_bucket()
    s3_store(s3_endpoint, bucket=s3.bucket).ensure_bucket()

    names = [bucket["Name"] for bucket in s3.client.list_buckets()["Buckets"]]
    assert names.count(s3.bucket) == 1


def test_what_lands_in_the_bucket_is_sealed(s3: S3Store) -> None:
    plaintext = minimal_pdf()
    document_id = str(uuid.uuid4())

    s3.put(f"cust-1/{document_id}", seal(plaintext, KEY, document_id))

    raw = s3.client.get_object(Bucket=s3.bucket, Key=f"documents/cust-1/{document_id}")["Body"].read()
    assert raw != plaintext
    assert b"%PDF" not in raw
    assert sniff_document_type(raw) is None
    assert open_sealed(raw, KEY, document_id) == plaintext
    assert open_sealed(s3.get(f"cust-1/{document_id}"), KEY, document_id) == plaintext


def test_s3_store_refuses_keys_that_are_not_plain_paths(s3: S3Store) -> None:
    with pytest.raises(InvalidStorageKey):
        s3.put("../other-prefix/doc-1", b"x")


def test_a_missing_bucket_is_storage_unavailable(s3_endpoint: str) -> None:
    store = s3_store(s3_endpoint, bucket="never-created")

    with pytest.raises(StorageUnavailable):
        store.put("doc-1", b"x")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_store_is_unavailable_quickly() -> None:
    store = s3_store(f"http://127.0.0.1:{closed_port()}", connect_timeout=0.5, read_timeout=0.5, max_attempts=1)
    started = time.monotonic()

    for operation in (
        store.ensure_bucket,
        lambda: store.put("doc-1", b"x"),
        lambda: store.get("doc-1"),
        lambda: store.exists("doc-1"),
        lambda: store.delete("doc-1"),
    ):
        with pytest.raises(StorageUnavailable) as unavailable:
            operation()
        assert isinstance(unavailable.value, Unavailable)
        assert unavailable.value.status == 503
        assert unavailable.value.code == "storage_unavailable"

    assert time.monotonic() - started < 5


def test_building_a_store_touches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_client(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the client was built")

    monkeypatch.setattr(storage.boto3.session.Session, "client", no_client)

    store = S3Store("bucket", endpoint_url=f"http://127.0.0.1:{closed_port()}")

    assert store._client is None
