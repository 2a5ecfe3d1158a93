"""The ``loanbridge demo-data`` command (registered under the ``loanbridge.commands`` entry-point group)."""

from __future__ import annotations

import os
import time

import click

from loanbridge.common.config import Env
from loanbridge.common.logs import configure_logging
from loanbridge.demo.fill import DEFAULT_SEED, AlreadyFilled, Options, Summary, environment, fill
from loanbridge.demo.walk import DemoError

ROLE_TITLES = {"admin": "管理员", "manager": "团队经理", "sales": "销售", "risk_officer": "风控专员",
               "risk_director": "风控总监", "ops": "运营"}  # fmt: skip
COUNT_TITLES = {"leads": "线索", "followups": "跟进", "documents": "材料", "submissions": "进件",
                "reviews": "人工复核", "lender_submissions": "资方提交", "lender_approvals": "资方批复",
                "loans": "放款", "repayments": "还款", "overdue_loans": "逾期贷款", "settled": "提前结清",
                "released": "释放公海", "claimed": "公海认领", "lost": "流失"}  # fmt: skip


@click.command("demo-data")
@click.option("--months", default=6, show_default=True, type=click.IntRange(1, 24), help="Months of history.")
@click.option("--leads-per-month", default=30, show_default=True, type=click.IntRange(1, 2000),
              help="Leads a month (the scale; tests use a few).")  # fmt: skip
@click.option("--seed", default=DEFAULT_SEED, show_default=True, type=int, help="Same seed, same firm.")
@click.option("--password", default=None, help="Password of every demo account (default: generated, shown once).")
def demo_data(months: int, leads_per_month: int, seed: int, password: str | None) -> None:
    """Fill a fresh install with a demo firm in Shandong: staff, channels, lenders and months of history with past
    business times, through every service's own API. Embedded mode only (LOANBRIDGE_MODE=embedded). Refused
    when the install already has leads."""
    from loanbridge.common.embedded import Suite, embedded_environment

    if Env().get("MODE") != "embedded":
        raise click.UsageError("demo-data writes the embedded mode's databases: set LOANBRIDGE_MODE=embedded")
    configure_logging(service="demo-data", level=Env().get("LOG_LEVEL", "WARNING") or "WARNING")
    started = time.monotonic()
    environ = environment(embedded_environment(dict(os.environ)), months=months)
    suite = Suite(environ)
    try:
        summary = fill(suite, Options(months=months, leads_per_month=leads_per_month, seed=seed, password=password))
    except AlreadyFilled as refusal:
        raise click.ClickException(str(refusal)) from None
    except DemoError as failure:
        raise click.ClickException(f"演示数据写入中断: {failure}") from None
    finally:
        suite.close()
    echo_summary(summary, seconds=time.monotonic() - started, generated=password is None)


def echo_summary(summary: Summary, *, seconds: float, generated: bool) -> None:
    span = f"{summary.first_day} 至 {summary.last_day}"
    click.echo(f"演示数据已写入: {span} ({seconds:.0f} 秒, {summary.api_calls} 次接口调用, {summary.steps} 个步骤)")
    click.echo("  " + ", ".join(f"{COUNT_TITLES[name]} {count}" for name, count in summary.counts.items()))
    click.echo("  事件: " + ", ".join(f"{name} {count}" for name, count in summary.events.items()))
    closed = "; ".join(
        f"{name}: " + ", ".join(f"{what} {count}" for what, count in counts.items())
        for name, counts in summary.closed.items()
    )
    click.echo(f"  历史遗留的到期计时与消息已关闭(未触发): {closed}")
    if summary.pending_retries or summary.dead_letters:
        click.echo(f"  注意: {summary.pending_retries} 个事件待重试, {summary.dead_letters} 个死信")
    click.echo("登录账号:")
    for role, names in summary.usernames.items():
        click.echo(f"  {ROLE_TITLES.get(role, role)}: {', '.join(names)}")
    if generated:
        click.echo(f"密码(所有演示账号相同,仅显示这一次): {summary.password}")
    else:
        click.echo("密码: 即 --password 所给")
