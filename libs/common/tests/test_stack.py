"""The distributed mode on one machine: process ports, the gateway's nginx configuration, local secrets, the
process plan, and starting and stopping a detached process."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from loanbridge.common import stack
from loanbridge.common.pii.crypto import decode_key
from loanbridge.common.stack import Layout, Process, local_secrets, plan, render_gateway, stack_environment
from loanbridge.common.testing.waiting import wait_until

TEMPLATE = Path(__file__).resolve().parents[3] / "deploy" / "gateway" / "nginx.conf.template"
SERVICES = ("identity", "intake", "workflow", "risk", "notify", "reporting")


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(services=SERVICES, var_dir=tmp_path / "var", gateway_port=18080)


# --- ports ----------------------------------------------------------------------------------------------------------


def test_service_n_in_start_order_listens_on_base_plus_n(layout: Layout) -> None:
    assert [layout.web_port(service) for service in SERVICES] == [8101, 8102, 8103, 8104, 8105, 8106]
    assert [layout.worker_port(service) for service in SERVICES] == [8201, 8202, 8203, 8204, 8205, 8206]
    assert layout.gateway_url == "http://127.0.0.1:18080"


def test_ports_and_folders_come_from_the_environment(tmp_path: Path) -> None:
    layout = Layout.from_env(
        ["identity", "intake"],
        {
            "LOANBRIDGE_VAR_DIR": str(tmp_path / "stack"),
            "LOANBRIDGE_GATEWAY_PORT": "9080",
            "LOANBRIDGE_WEB_PORT_BASE": "9100",
            "LOANBRIDGE_WORKER_PORT_BASE": "9200",
            "LOANBRIDGE_WEB_WORKERS": "4",
        },
    )

    assert (layout.gateway_port, layout.web_port("intake"), layout.worker_port("identity")) == (9080, 9102, 9201)
    assert layout.web_workers == 4
    assert layout.run_dir == tmp_path / "stack" / "run"
    assert layout.log_dir == tmp_path / "stack" / "log"


def test_defaults_match_the_documented_ports(tmp_path: Path) -> None:
    layout = Layout.from_env(["identity"], {"LOANBRIDGE_VAR_DIR": str(tmp_path)})

    assert (layout.gateway_port, layout.web_port("identity"), layout.worker_port("identity")) == (8080, 8101, 8201)


def test_a_service_outside_the_stack_has_no_port(layout: Layout) -> None:
    with pytest.raises(ValueError):
        layout.web_port("billing")


# --- gateway --------------------------------------------------------------------------------------------------------


def rendered(layout: Layout, environ: dict[str, str] | None = None) -> str:
    """The gateway configuration written for ``layout``, without its comment lines."""
    text = render_gateway(layout, TEMPLATE, environ or {}).read_text()
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")) + "\n"


def test_gateway_config_fills_every_placeholder(layout: Layout) -> None:
    text = rendered(layout)

    assert re.findall(r"\{\{\s*\w+\s*\}\}", text) == []
    assert "listen 127.0.0.1:18080;" in text
    assert f"pid {layout.run_dir}/nginx.pid;" in text


def test_gateway_routes_each_service_api_to_its_web_port(layout: Layout) -> None:
    text = rendered(layout)

    for service in SERVICES:
        assert f"upstream {service} {{ server 127.0.0.1:{layout.web_port(service)}; keepalive 64; }}" in text
        assert re.search(
            rf"location /api/{service}/ {{ client_max_body_size \w+; proxy_pass http://{service}; }}", text
        )
    assert "location /dashboard/ { proxy_pass http://reporting; }" in text


def test_gateway_takes_uploads_only_on_intake(layout: Layout) -> None:
    text = rendered(layout, {"LOANBRIDGE_GATEWAY_UPLOAD_LIMIT": "50m"})

    assert "location /api/intake/ { client_max_body_size 50m;" in text
    assert "location /api/identity/ { client_max_body_size 1m;" in text
    assert "client_max_body_size 1m;\n" in text


def test_gateway_rate_limit_comes_from_the_environment(layout: Layout) -> None:
    text = rendered(layout, {"LOANBRIDGE_GATEWAY_RATE_PER_SECOND": "50", "LOANBRIDGE_GATEWAY_RATE_BURST": "80"})

    assert "rate=50r/s;" in text
    assert "burst=80 nodelay;" in text


def test_gateway_never_routes_internal_or_metrics(layout: Layout) -> None:
    text = rendered(layout)

    assert re.search(r"location ~\* \(\^\|/\)internal\(/\|\$\) \{ return 404; \}", text)
    assert re.search(r"location ~\* \(\^\|/\)metrics/\?\$ \{ return 404; \}", text)
    assert "location /internal" not in text


def test_gateway_without_reporting_has_no_dashboard_route(tmp_path: Path) -> None:
    layout = Layout(services=("identity", "intake"), var_dir=tmp_path)

    text = rendered(layout)

    assert "/dashboard/" not in text
    assert "upstream reporting" not in text


def test_gateway_render_creates_the_folders_nginx_writes_to(layout: Layout) -> None:
    path = render_gateway(layout, TEMPLATE, {})

    assert path == layout.var_dir / "gateway" / "nginx.conf"
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        assert (layout.var_dir / "gateway" / "tmp" / sub).is_dir()
    assert layout.log_dir.is_dir() and layout.run_dir.is_dir()


@pytest.mark.skipif(not Path(stack.nginx_binary()).is_absolute(), reason="nginx is not installed")
def test_rendered_gateway_config_passes_nginx_syntax_check(layout: Layout) -> None:
    path = render_gateway(layout, TEMPLATE, {})

    checked = subprocess.run(
        [
            stack.nginx_binary(),
            "-t",
            "-q",
            "-p",
            str(layout.var_dir / "gateway"),
            "-c",
            str(path),
            "-e",
            str(layout.log_dir / "gateway-error.log"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert checked.returncode == 0, checked.stderr


# --- environment and secrets ----------------------------------------------------------------------------------------


def test_local_secrets_are_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = local_secrets(tmp_path)
    again = local_secrets(tmp_path)

    assert first == again
    assert set(first) == {"PII_KEK", "BLIND_INDEX_KEY"}
    assert first["PII_KEK"] != first["BLIND_INDEX_KEY"]
    for name, value in first.items():
        assert len(decode_key(name, value)) == 32
    assert stat.S_IMODE((tmp_path / "secrets.env").stat().st_mode) == 0o600


def test_local_secrets_keep_a_value_set_by_the_operator(tmp_path: Path) -> None:
    (tmp_path / "secrets.env").write_text("LOANBRIDGE_PII_KEK=operator-key\n")

    secrets = local_secrets(tmp_path)

    assert secrets["PII_KEK"] == "operator-key"
    assert "BLIND_INDEX_KEY" in secrets
    assert local_secrets(tmp_path) == secrets


def test_stack_environment_fills_local_defaults_without_overriding_the_callers(layout: Layout) -> None:
    env = stack_environment(layout, {"LOANBRIDGE_BROKER_URL": "amqp://lb:secret@mq:5672//", "PATH": "/usr/bin"})

    assert env["LOANBRIDGE_BROKER_URL"] == "amqp://lb:secret@mq:5672//"
    assert env["LOANBRIDGE_DATABASE_URL"] == stack.DEFAULT_DATABASE_URL
    assert env["LOANBRIDGE_JWKS_URL"] == "http://127.0.0.1:8101/api/identity/v1/jwks"
    assert env["LOANBRIDGE_PII_KEK"] and env["LOANBRIDGE_BLIND_INDEX_KEY"]
    assert env["PATH"] == "/usr/bin"


# --- processes ------------------------------------------------------------------------------------------------------


def test_plan_starts_web_and_worker_of_each_service_in_order_then_the_gateway(layout: Layout) -> None:
    processes = plan(layout)

    assert [process.name for process in processes] == [
        name for service in SERVICES for name in (f"{service}-web", f"{service}-worker")
    ] + ["gateway"]
    intake_web = processes[2]
    assert intake_web.argv[-4:] == ["--bind", "127.0.0.1:8102", "--workers", "3"]
    assert intake_web.ready_url == "http://127.0.0.1:8102/readyz"
    assert processes[3].ready_url == "http://127.0.0.1:8202/readyz"
    assert processes[-1].ready_url == "http://127.0.0.1:18080/api/identity/v1/jwks"


def test_started_process_is_found_running_and_stop_ends_it(layout: Layout) -> None:
    sleeper = Process(name="sleeper", argv=[sys.executable, "-c", "import time; time.sleep(120)"], ready_url="")

    pid = stack.start(layout, sleeper, dict(os.environ))
    try:
        assert stack.running_pid(layout, "sleeper") == pid
        assert stack.start(layout, sleeper, dict(os.environ)) == pid  # already running: not started twice

        assert stack.stop(layout, "sleeper", timeout=10) is True

        assert stack.running_pid(layout, "sleeper") is None
        assert wait_until(lambda: not stack._alive(pid), timeout=10)
    finally:
        if stack.running_pid(layout, "sleeper") is not None:
            stack.stop(layout, "sleeper", timeout=1)


def test_stop_of_a_process_that_is_not_running_says_so(layout: Layout) -> None:
    assert stack.stop(layout, "nothing", timeout=1) is False


def test_stale_pid_file_does_not_count_as_running(layout: Layout) -> None:
    layout.run_dir.mkdir(parents=True)
    stack.pid_path(layout, "ghost").write_text("999999999")
    stack.pid_path(layout, "garbled").write_text("not a pid")

    assert stack.running_pid(layout, "ghost") is None
    assert stack.running_pid(layout, "garbled") is None


def test_nginx_binary_is_an_absolute_path_when_installed() -> None:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")

    assert stack.nginx_binary() == (found or "nginx")
