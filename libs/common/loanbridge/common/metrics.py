"""Prometheus metrics shared by every service: RED metrics per endpoint, event flow, outbox and queues.

Under gunicorn the web process runs in prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set
by ``loanbridge web``), so /metrics sums every worker. Label values are templates and type names, never ids or
personal data.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

# *_created series double every counter's output and no dashboard or alert reads them.
disable_created_metrics()

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "loanbridge_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["service", "endpoint", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "loanbridge_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method.",
    ["service", "endpoint", "method"],
    buckets=LATENCY_BUCKETS,
)
EVENTS_EMITTED = Counter(
    "loanbridge_events_emitted_total",
    "Events committed to the outbox with the state change they record, by type: leads created, applications "
    "submitted, stage changes, SLA breaches (workflow.task.overdue), messages sent or failed.",
    ["service", "type"],
)
EVENTS_PUBLISHED = Counter(
    "loanbridge_events_published_total",
    "Events published from the outbox and confirmed by the broker.",
    ["service", "type"],
)
# 5 s is the default confirm timeout (LOANBRIDGE_CONFIRM_TIMEOUT): a publish in the 6 s bucket waited its
# timeout out; one past it blocked longer than its timeout allows.
PUBLISH_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 6.0, 10.0, 30.0)
EVENTS_PUBLISH_SECONDS = Histogram(
    "loanbridge_events_publish_seconds",
    "Time a batch publish took, from its first message written to its last confirm or its failure (confirmed or "
    "failed: refused, returned, not confirmed in time, connection lost).",
    ["outcome"],
    buckets=PUBLISH_BUCKETS,
)
EVENTS_CONSUMED = Counter(
    "loanbridge_events_consumed_total",
    "Events applied by a consumer (committed with its inbox row).",
    ["service", "type"],
)
EVENTS_DUPLICATE = Counter(
    "loanbridge_events_duplicates_total",
    "Deliveries of events already applied, skipped by the inbox.",
    ["service", "type"],
)
EVENTS_REDELIVERED = Counter(
    "loanbridge_events_redelivered_total",
    "Deliveries the broker marked as redelivered (a consumer died or lost its channel before acking).",
    ["service", "type"],
)
EVENTS_RETRIED = Counter(
    "loanbridge_events_retried_total",
    "Events sent to delayed retry, by reason (failed or not_yet).",
    ["service", "type", "reason"],
)
EVENTS_DEAD_LETTERED = Counter(
    "loanbridge_events_dead_lettered_total",
    "Events moved to the dead-letter queue after their last attempt.",
    ["service", "type"],
)
EVENTS_REPLAYED = Counter(
    "loanbridge_events_replayed_total",
    "Dead-lettered events put back for another attempt by replay-dlq.",
    ["service"],
)
OUTBOX_BACKLOG = Gauge(
    "loanbridge_outbox_backlog",
    "Outbox events not yet published.",
    ["service"],
    multiprocess_mode="max",
)
OUTBOX_OLDEST_AGE = Gauge(
    "loanbridge_outbox_oldest_pending_age_seconds",
    "Age of the oldest unpublished outbox event (0 when none).",
    ["service"],
    multiprocess_mode="max",
)
QUEUE_MESSAGES = Gauge(
    "loanbridge_queue_messages",
    "Ready messages in a broker queue: the service's queue (consumer lag), its dead-letter queue and the "
    "alternate exchange's queue of unroutable events.",
    ["service", "queue", "role"],
    multiprocess_mode="max",
)
BROKER_UP = Gauge(
    "loanbridge_broker_connected",
    "1 while the worker holds a broker connection.",
    ["service", "component"],
    multiprocess_mode="max",
)
CALENDAR_YEAR_MISSING = Gauge(
    "loanbridge_calendar_year_missing",
    "1 for a year the holiday package has no data for: the business calendar counts weekends alone there.",
    ["year"],
    multiprocess_mode="max",
)


def declare_event_types(service: str, event_types: Iterable[str]) -> None:
    """Export 0 for each event type a service emits, so a rate over a window that spans a restart sees its first
    event (a series that starts at 1 hides it)."""
    for event_type in event_types:
        EVENTS_EMITTED.labels(service, event_type)


def registry_for_scrape() -> CollectorRegistry:
    """The registry /metrics renders: every gunicorn worker's values in multiprocess mode, else this process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return DEFAULT_REGISTRY


def render() -> tuple[bytes, str]:
    """The Prometheus text exposition of this process (or process group)."""
    return generate_latest(registry_for_scrape()), CONTENT_TYPE_LATEST
