"""Templates: Jinja2 in its sandbox, rendered with a context of ids, amounts and dates (never raw PII).

A customer's mobile reaches a template only through ``Recipient.mobile``, which is shown in full on the
customer's own channel (their SMS) and masked everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from loanbridge.common import clock
from loanbridge.common.pii.masking import mask_mobile


def business_time(value: str | None) -> str:
    """An ISO-8601 instant as staff read it: YYYY-MM-DD HH:MM in the business time zone."""
    if not value:
        return ""
    return clock.to_business(clock.parse_iso(value)).strftime("%Y-%m-%d %H:%M")


ENVIRONMENT = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)
ENVIRONMENT.filters["business_time"] = business_time


class TemplateInvalid(ValueError):
    """A template does not compile or does not render with its sample context."""


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str


class Recipient:
    """Who a message is for, as a template sees them: a name for staff, a mobile masked unless it is their own."""

    def __init__(self, *, display_name: str = "", mobile: str | None = None, own_channel: bool = False) -> None:
        self.display_name = display_name
        self._mobile = mobile or ""
        self._own_channel = own_channel

    @property
    def mobile(self) -> str:
        return self._mobile if self._own_channel else mask_mobile(self._mobile)

    def __str__(self) -> str:
        return self.display_name


@lru_cache(maxsize=1024)
def _compiled(text: str) -> Template:
    """A template compiled once per process for each distinct text (an edited template is a new text)."""
    return ENVIRONMENT.from_string(text)


def compile_check(title: str, body: str) -> None:
    """Raise ``TemplateInvalid`` when a title or body is not valid Jinja2."""
    for text in (title, body):
        try:
            ENVIRONMENT.parse(text)
        except TemplateError as exc:
            raise TemplateInvalid(str(exc)) from exc


def render(title: str, body: str, context: dict[str, Any]) -> Rendered:
    """Render a title and body; a missing variable or a sandbox violation raises ``TemplateInvalid``."""
    try:
        return Rendered(
            title=_compiled(title).render(context).strip(),
            body=_compiled(body).render(context).strip(),
        )
    except TemplateError as exc:
        raise TemplateInvalid(str(exc)) from exc
