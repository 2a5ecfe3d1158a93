"""Local fakes of the providers, each checking requests the way the provider documents it (written from the
providers' documentation, not from notify's adapters), and a fake contacts source.

Every server listens on 127.0.0.1 in a thread; nothing leaves the machine.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socketserver
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeContacts:
    """Contacts as intake and identity would answer them."""

    def __init__(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        self.staff_members: dict[str, dict[str, Any]] = {}
        self.calls = 0

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        self.calls += 1
        return self.customers.get(customer_id)

    def staff(self, user_id: str) -> dict[str, Any] | None:
        self.calls += 1
        return self.staff_members.get(user_id)


class Recorder:
    """What a fake server received, and the answers it is told to give next."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def next_answer(self, default: tuple[int, dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            return self.answers.pop(0) if self.answers else default


@contextmanager
def http_server(handle: Callable[[BaseHTTPRequestHandler, bytes], tuple[int, Any]]) -> Iterator[str]:
    """Serve ``handle`` on 127.0.0.1; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, answer = handle(self, body)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --- DingTalk custom robot ---------------------------------------------------------------------------------
def dingtalk_handler(recorder: Recorder, *, access_token: str, secret: str) -> Callable[..., tuple[int, Any]]:
    """Checks ``sign``: base64(HmacSHA256(key=secret, data=timestamp + "\\n" + secret)), url-encoded."""

    def handle(request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, Any]:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
        timestamp = query.get("timestamp", [""])[0]
        expected = base64.b64encode(
            hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
        ).decode()
        if query.get("access_token", [""])[0] != access_token:
            recorder.rejected.append("access_token")
            return 200, {"errcode": 300001, "errmsg": "token is not exist"}
        if query.get("sign", [""])[0] != expected:
            recorder.rejected.append("sign")
            return 200, {"errcode": 310000, "errmsg": "sign not match"}
        message = json.loads(body)
        with recorder.lock:
            recorder.requests.append(message)
        status, answer = recorder.next_answer((200, {"errcode": 0, "errmsg": "ok"}))
        return status, answer

    return handle


# --- WeCom group robot -------------------------------------------------------------------------------------
def wecom_handler(recorder: Recorder, *, key: str) -> Callable[..., tuple[int, Any]]:
    """``POST /cgi-bin/webhook/send?key=KEY`` with a JSON body whose msgtype is text or markdown."""

    def handle(request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, Any]:
        parts = urllib.parse.urlsplit(request.path)
        query = urllib.parse.parse_qs(parts.query)
        if parts.path != "/cgi-bin/webhook/send" or query.get("key", [""])[0] != key:
            recorder.rejected.append("key")
            return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
        message = json.loads(body)
        if message.get("msgtype") not in ("text", "markdown") or not message.get(message["msgtype"], {}).get("content"):
            recorder.rejected.append("body")
            return 200, {"errcode": 40008, "errmsg": "invalid message type"}
        with recorder.lock:
            recorder.requests.append(message)
        return recorder.next_answer((200, {"errcode": 0, "errmsg": "ok"}))

    return handle


# --- Aliyun dysmsapi SendSms (RPC signature v1.0) ----------------------------------------------------------
def aliyun_encode(value: str) -> str:
    """Aliyun's percentEncode: URLEncoder.encode(value, UTF-8) then + → %20, * → %2A, %7E → ~."""
    return urllib.parse.quote_plus(value, encoding="utf-8").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def aliyun_handler(recorder: Recorder, *, access_key_id: str, access_key_secret: str) -> Callable[..., tuple[int, Any]]:
    """Recomputes Signature over the canonicalized query as the RPC signature documentation gives it."""
    required = {
        "Action": "SendSms",
        "Version": "2017-05-25",
        "Format": "JSON",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "AccessKeyId": access_key_id,
    }

    def handle(request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, Any]:
        if request.command != "GET":
            recorder.rejected.append("method")
            return 400, {"Code": "InvalidMethod"}
        pairs = urllib.parse.parse_qsl(urllib.parse.urlsplit(request.path).query, keep_blank_values=True)
        params = dict(pairs)
        signature = params.pop("Signature", "")
        canonical = "&".join(f"{aliyun_encode(k)}={aliyun_encode(v)}" for k, v in sorted(params.items()))
        string_to_sign = "GET&" + aliyun_encode("/") + "&" + aliyun_encode(canonical)
        expected = base64.b64encode(
            hmac.new((access_key_secret + "&").encode(), string_to_sign.encode(), hashlib.sha1).digest()
        ).decode()
        if any(params.get(name) != value for name, value in required.items()):
            recorder.rejected.append("params")
            return 400, {"Code": "MissingParameter"}
        if signature != expected:
            recorder.rejected.append("signature")
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched"}
        with recorder.lock:
            recorder.requests.append(params)
        return recorder.next_answer((200, {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0"}))

    return handle


# --- SMTP --------------------------------------------------------------------------------------------------
class SmtpRecorder:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []


@contextmanager
def smtp_server(recorder: SmtpRecorder) -> Iterator[int]:
    """A minimal SMTP server (RFC 5321 commands HELO/EHLO, MAIL, RCPT, DATA, QUIT); yields its port."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 fake.local ESMTP\r\n")
            envelope: dict[str, Any] = {"rcpt": []}
            while True:
                line = self.rfile.readline().decode().rstrip("\r\n")
                if not line:
                    return
                verb = line.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    self.wfile.write(b"250 fake.local\r\n")
                elif verb == "MAIL":
                    envelope["from"] = line[10:].strip()
                    self.wfile.write(b"250 OK\r\n")
                elif verb == "RCPT":
                    envelope["rcpt"].append(line[8:].strip())
                    self.wfile.write(b"250 OK\r\n")
                elif verb == "DATA":
                    self.wfile.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    data = []
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data.append(chunk)
                    envelope["data"] = b"".join(data)
                    recorder.messages.append(envelope)
                    envelope = {"rcpt": []}
                    self.wfile.write(b"250 OK queued\r\n")
                elif verb == "QUIT":
                    self.wfile.write(b"221 Bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 OK\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
