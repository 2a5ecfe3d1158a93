"""The ``loanbridge`` command: migrate, run processes, start and stop the stack, operate the event bus.

Services add their own commands (``create-admin`` from identity, ...) through their ``ServiceSpec``; tools that
span every service (``demo-data``) through the ``loanbridge.commands`` entry-point group.
"""

from __future__ import annotations

import os
import shutil
import sys
from functools import partial
from importlib.metadata import entry_points
from pathlib import Path

import click
import structlog

from loanbridge.common import clock, db, stack
from loanbridge.common import service as services
from loanbridge.common.config import PREFIX, Env, Settings
from loanbridge.common.events import deadletters, topology
from loanbridge.common.events.broker import connect
from loanbridge.common.events.dispatcher import replay_dead_letters
from loanbridge.common.logs import configure_logging
from loanbridge.common.runtime import Runtime

log = structlog.get_logger(__name__)


@click.group()
@click.pass_context
def main(context: click.Context) -> None:
    """LoanBridge: customer-and-loan management for loan-facilitation firms."""
    if context.invoked_subcommand == "run":
        os.environ[PREFIX + "MODE"] = "embedded"
    os.environ.update(stack.local_defaults(os.environ))


def _runtime(service: str) -> Runtime:
    return Runtime(services.get(service))


@main.command()
@click.option("--service", "only", multiple=True, help="Migrate only these services (default: all).")
@click.option("--skip-broker", is_flag=True, help="Do not declare the broker's exchanges, queues and bindings.")
def migrate(only: tuple[str, ...], skip_broker: bool) -> None:
    """Create or upgrade every service's database, then declare the broker topology from every registry."""
    configure_logging(service="migrate")
    installed = services.discover()
    for name, spec in installed.items():
        if only and name not in only:
            continue
        db.migrate_database(Settings.from_env(name).database_url, spec.migrations)
        if spec.prepare is not None:
            spec.prepare(Runtime(spec))
        click.echo(f"migrated {name}")
    if skip_broker:
        return
    settings = Settings.from_env(next(iter(installed)))
    if not settings.events.broker_url:
        raise click.UsageError("LOANBRIDGE_BROKER_URL is not set; pass --skip-broker to migrate databases only")
    declare_topology(settings, installed)
    click.echo("declared broker topology")


def declare_topology(settings: Settings, installed: dict[str, services.ServiceSpec]) -> None:
    """Declare the exchanges and every consuming service's queues and bindings."""
    connection = connect(str(settings.events.broker_url))
    try:
        bindings = {name: list(spec.subscriptions) for name, spec in installed.items()}
        topology.declare(connection.channel(), bindings, settings.events)
    finally:
        connection.release()


@main.command()
@click.argument("service")
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", default=3, show_default=True, type=int)
def web(service: str, bind: str, workers: int) -> None:
    """Serve a service's HTTP API with gunicorn (threaded workers, multiprocess metrics)."""
    services.get(service)
    settings = Settings.from_env(service)
    metrics_dir = Path(settings.var_dir).resolve() / "prometheus" / f"{service}-web-{bind.rsplit(':', 1)[-1]}"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    argv = [
        sys.executable, "-m", "gunicorn",
        "-c", "python:loanbridge.common.gunicorn_conf",
        "--bind", bind,
        "--workers", str(workers),
        "--name", f"loanbridge-{service}-web",
        f'loanbridge.common.wsgi:create("{service}")',
    ]  # fmt: skip
    os.execv(sys.executable, argv)


@main.command()
@click.argument("service")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of /healthz, /readyz, /metrics.")
@click.option("--port", default=9000, show_default=True, type=int, help="Port of /healthz, /readyz, /metrics.")
def worker(service: str, host: str, port: int) -> None:
    """Run a service's worker: outbox relay, event consumer, timers."""
    from loanbridge.common.worker import Worker

    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    runtime = _runtime(service)
    configure_logging(service=service, level=runtime.settings.log_level)
    os.nice(runtime.settings.worker_nice)
    loops = [partial(loop, runtime) for loop in runtime.spec.worker_loops]
    Worker(runtime, extra_loops=loops).run(port=port, host=host)


@main.command("replay-dlq")
@click.argument("service")
@click.option("--limit", type=int, default=None, help="Replay at most this many.")
def replay_dlq(service: str, limit: int | None) -> None:
    """Put a service's dead-lettered events back for delivery, with a fresh retry budget (either mode)."""
    configure_logging(service=service)
    if embedded_mode():
        count = replay_dead_letters(_runtime(service), limit=limit)
    else:
        count = deadletters.replay(service, Settings.from_env(service).events, limit=limit)
    click.echo(f"replayed {count} event(s) to {service}")


def embedded_mode() -> bool:
    return Env().get("MODE") == "embedded"


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def run(host: str, port: int) -> None:
    """Run every service in this process (embedded mode: SQLite under var/, no broker) until Ctrl-C."""
    from loanbridge.common import embedded

    configure_logging(service="embedded", level=Env().get("LOG_LEVEL", "INFO") or "INFO")
    embedded.run(host=host, port=port)


@main.command("rotate-keys")
@click.option("--data-keys", is_flag=True, help="Also replace the data keys and re-encrypt what they sealed.")
def rotate_keys(data_keys: bool) -> None:
    """Re-wrap every key under the current KEK (LOANBRIDGE_PII_KEK; the old one in LOANBRIDGE_PII_KEK_PREVIOUS),
    then, with --data-keys, re-encrypt with new data keys. In batches, while the services keep serving."""
    configure_logging(service="rotate-keys")
    os.nice(Env().integer("WORKER_NICE", Settings.worker_nice))  # background work, as a worker's: webs go first
    started = clock.now()
    for name, spec in services.discover().items():
        if spec.rewrap_keys is None:
            continue
        runtime = Runtime(spec)
        click.echo(f"{name}: {spec.rewrap_keys(runtime)} key(s) re-wrapped")
        if data_keys and spec.reencrypt is not None:
            click.echo(f"{name}: {spec.reencrypt(runtime, before=started)} key(s) replaced, values re-encrypted")


@main.command()
@click.argument("service")
def resync(service: str) -> None:
    """Make a producer re-emit snapshot events of its current state, for consumers that arrived late."""
    spec = services.get(service)
    if spec.resync is None:
        raise click.UsageError(f"{service} has no snapshot events to re-emit")
    runtime = Runtime(spec)
    configure_logging(service=service, level=runtime.settings.log_level)
    count = spec.resync(runtime)
    click.echo(f"{service}: {count} snapshot event(s) written to the outbox")


@main.command("close-history")
@click.option("--before", "before", default=None, help="ISO-8601 instant (default: now).")
@click.option("--actor", default="cli", show_default=True, help="Who closes it, for the audit.")
def close_history(before: str | None, actor: str) -> None:
    """Close, without firing, every timer and scheduled message that a history written with past business times
    (demo data, an import) left due before an instant; later ones stay armed."""
    configure_logging(service="close-history")
    instant = clock.parse_iso(before) if before else clock.now()
    for name, spec in services.discover().items():
        if spec.close_history is not None:
            closed = spec.close_history(Runtime(spec), before=instant, actor=actor)
            click.echo(f"{name}: " + ", ".join(f"{what} {count}" for what, count in closed.items()))


def _layout() -> stack.Layout:
    return stack.Layout.from_env(services.discover())


@main.command()
@click.option(
    "--gateway-template",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=stack.DEFAULT_GATEWAY_TEMPLATE,
    show_default=True,
)
@click.option("--timeout", default=90.0, show_default=True, help="Seconds to wait for every process to be ready.")
def up(gateway_template: Path, timeout: float) -> None:
    """Start the distributed mode on this machine: migrate, every web and worker, and the gateway."""
    stack.require_nginx()
    layout = _layout()
    env = stack.stack_environment(layout)
    os.environ.update(env)
    click.get_current_context().invoke(migrate)
    stack.render_gateway(layout, gateway_template, env)
    processes = stack.plan(layout)
    for process in processes:
        stack.start(layout, process, env)
    not_ready = stack.wait_ready(processes, timeout=timeout)
    if not_ready:
        raise click.ClickException(f"not ready after {timeout:.0f}s: {', '.join(not_ready)} (see {layout.log_dir})")
    click.echo(f"LoanBridge is up: gateway {layout.gateway_url}  (logs in {layout.log_dir})")


@main.command()
def down() -> None:
    """Stop every process that ``loanbridge up`` started."""
    layout = _layout()
    for process in reversed(stack.plan(layout)):
        if stack.stop(layout, process.name):
            click.echo(f"stopped {process.name}")


@main.command()
def status() -> None:
    """Show which processes of the stack are running."""
    layout = _layout()
    for process in stack.plan(layout):
        pid = stack.running_pid(layout, process.name)
        click.echo(f"{process.name:<22} {'running pid ' + str(pid) if pid else 'stopped'}")


def _add_service_commands() -> None:
    for spec in services.discover().values():
        for command in spec.commands:
            main.add_command(command)
    for entry in entry_points(group="loanbridge.commands"):
        main.add_command(entry.load())


def entry_point() -> None:
    _add_service_commands()
    main()


if __name__ == "__main__":
    entry_point()
