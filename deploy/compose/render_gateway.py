"""Render the compose gateway's nginx.conf from deploy/gateway/nginx.conf.template (the one template that
``loanbridge up`` also renders), with compose's names and ports: upstreams ``<service>-web:8000``, listening on
8080 in an unprivileged nginx (1.27.3 or later, for ``resolve``). The result is committed as
deploy/compose/gateway/nginx.conf; tests/deploy checks that it is this script's output for the current template.

    python3 deploy/compose/render_gateway.py          # rewrite deploy/compose/gateway/nginx.conf
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "gateway" / "nginx.conf.template"
OUTPUT = ROOT / "deploy" / "compose" / "gateway" / "nginx.conf"
# The services in start order (loanbridge.common.service.SERVICE_ORDER); tests/deploy checks it against the code.
SERVICES = ("identity", "intake", "workflow", "risk", "notify", "reporting")
WEB_PORT = 8000
UPLOAD_LIMIT = "20m"  # intake takes document uploads (LOANBRIDGE_GATEWAY_UPLOAD_LIMIT's default)


def _body_limit(service: str) -> str:
    return UPLOAD_LIMIT if service == "intake" else "1m"


def http_directives(services: tuple[str, ...] = SERVICES) -> str:
    """Docker's resolver (web containers get new addresses when they are recreated), logs, and an upstream per
    service that follows its container's address."""
    lines = [
        "    resolver 127.0.0.11 valid=10s ipv6=off;",
        "    error_log /dev/stderr warn;",
    ]
    lines += [
        f"    upstream {service} {{ zone upstream_{service} 64k; server {service}-web:{WEB_PORT} resolve; "
        "keepalive 64; }"
        for service in services
    ]
    return "\n".join(lines)


def routes(services: tuple[str, ...] = SERVICES) -> str:
    """The same routes as ``loanbridge up``: /api/<service>/ to each service, /dashboard/ to reporting."""
    lines = [
        f"        location /api/{service}/ {{ client_max_body_size {_body_limit(service)}; "
        f"proxy_pass http://{service}; }}"
        for service in services
    ]
    if "reporting" in services:
        lines.append("        location /dashboard/ { proxy_pass http://reporting; }")
    return "\n".join(lines)


def render(template: str, services: tuple[str, ...] = SERVICES) -> str:
    values = {
        "RUN_DIR": "/tmp",
        "LOG_DIR": "/tmp",
        "TMP_DIR": "/tmp",
        "USER_DIRECTIVE": "",
        "BODY_LIMIT": "1m",
        "RATE_PER_SECOND": "1000",
        "RATE_BURST": "2000",
        "LISTEN": "8080",
        "UPSTREAMS": http_directives(services),
        "ROUTES": routes(services),
    }
    text = template
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    header = "# Rendered from deploy/gateway/nginx.conf.template by deploy/compose/render_gateway.py: do not edit.\n"
    return header + text


def main() -> int:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(render(TEMPLATE.read_text()))
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
