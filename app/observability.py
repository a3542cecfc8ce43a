"""Logs, metrics and readiness for operators (docs/deploy.md).

- Logs: `COOPCLUB_LOG_FORMAT=json` writes one JSON object per line; every request gets
  an id (the `X-Request-ID` response header, and `request_id` on each line logged while
  it runs) and one `request` line with its route template (never the URL: links carry
  tokens), status and duration. No addresses, client IPs or tokens.
- Metrics (Prometheus, `GET /metrics` with `Authorization: Bearer COOPCLUB_METRICS_TOKEN`;
  404 without the setting): counters of what happened (app/metrics.py: requests by
  route, method and status; consent events by action, so signups and confirmations;
  messages sent, refused and deferred; bounce reports; jobs), summed over every web and
  worker process on the machine that shares PROMETHEUS_MULTIPROC_DIR (prometheus-client's
  multiprocess mode); and, from cheap queries at scrape time, transactional mail
  waiting, the consent log's lag and size, queue depths and the age of the last sweep.
- `/readyz`: 503 once no sweep has run for COOPCLUB_READY_STALE_SECONDS (the sweep runs on
  a worker, so this also means no worker is alive); `/healthz` stays the cheap check.
"""

from __future__ import annotations

import contextvars
import hmac
import json
import logging
import os
import time
import uuid
from datetime import UTC

from fastapi import APIRouter, Header, HTTPException
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import jobs
from app import metrics as _counters  # noqa: F401  (declares the counters /metrics serves)
from app.config import Settings, get_settings

log = logging.getLogger("coopclub.request")
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

REQUESTS = Counter(
    "coopclub_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)


# Logs ------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if rid := request_id.get():
            entry["request_id"] = rid
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


class RequestObserver:
    """Outermost middleware: a request id, the request counter, and one log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = uuid.uuid4().hex[:16]
        token = request_id.set(rid)
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            REQUESTS.labels(route, scope["method"], str(status)).inc()
            log.info(
                "%s %s %s",
                scope["method"],
                route,
                status,
                extra={
                    "fields": {
                        "route": route,
                        "method": scope["method"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    }
                },
            )
            request_id.reset(token)


# Metrics ---------------------------------------------------------------------------------


class ClusterCollector:
    """What the database and Redis say, read at each scrape with a few cheap queries
    (indexed, bounded by a backlog, never a count of a whole table): work waiting and
    how far behind the sweep and the consent log's sequencer are."""

    def collect(self):  # type: ignore[no-untyped-def]
        from app.consent import log as consent_log
        from app.db import get_engine, utcnow
        from app.mailing.models import TransactionalEmail, TransactionalStatus

        with Session(get_engine()) as session:
            waiting = GaugeMetricFamily(
                "coopclub_transactional_waiting",
                "Transactional emails (confirmations, login links) not yet handed over",
                labels=["status"],
            )
            rows = session.exec(
                select(TransactionalEmail.status, func.count())
                .where(
                    col(TransactionalEmail.status).in_(
                        [TransactionalStatus.queued, TransactionalStatus.sending]
                    )
                )
                .group_by(TransactionalEmail.status)
            ).all()
            found = {str(getattr(status, "value", status)): n for status, n in rows}
            for status in ("queued", "sending"):
                waiting.add_metric([status], found.get(status, 0))
            yield waiting
            oldest = consent_log.oldest_unsequenced(session)
            checkpoint = consent_log.latest_checkpoint(session)
        lag = GaugeMetricFamily(
            "coopclub_consent_log_lag_seconds",
            "Age of the oldest committed consent event not yet in the log (0: all are in)",
        )
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        lag.add_metric([], (utcnow() - oldest).total_seconds() if oldest else 0.0)
        yield lag
        size = GaugeMetricFamily(
            "coopclub_consent_log_size", "Events in the consent log's latest signed checkpoint"
        )
        size.add_metric([], checkpoint.size if checkpoint else 0)
        yield size
        queues = GaugeMetricFamily(
            "coopclub_queue_depth", "Messages waiting in each broker queue", labels=["queue"]
        )
        for queue, depth in jobs.queue_depths().items():
            queues.add_metric([queue], depth)
        yield queues
        seen = jobs.last_sweep()
        sweep = GaugeMetricFamily(
            "coopclub_sweep_age_seconds", "Seconds since the sweep last ran (-1: never)"
        )
        sweep.add_metric([], time.time() - seen if seen else -1)
        yield sweep


def registry() -> CollectorRegistry:
    from prometheus_client import REGISTRY

    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        fresh = CollectorRegistry()
        MultiProcessCollector(fresh)
        fresh.register(ClusterCollector())
        return fresh
    if not any(isinstance(c, ClusterCollector) for c in REGISTRY._collector_to_names):
        REGISTRY.register(ClusterCollector())
    return REGISTRY


router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Prometheus metrics (needs COOPCLUB_METRICS_TOKEN)",
    responses={
        401: {"description": "No or the wrong bearer token"},
        404: {"description": "Metrics are off (no COOPCLUB_METRICS_TOKEN)"},
    },
)
def metrics(authorization: str | None = Header(default=None)) -> Response:
    token = get_settings().metrics_token
    if not token:
        raise HTTPException(404, "Metrics are off: set COOPCLUB_METRICS_TOKEN.")
    if not authorization or not hmac.compare_digest(authorization, f"Bearer {token}"):
        raise HTTPException(401, "Send Authorization: Bearer <COOPCLUB_METRICS_TOKEN>.")
    return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/readyz",
    summary="Ready: the sweep (and so a worker) ran recently",
    responses={503: {"description": "Stale: no sweep seen within COOPCLUB_READY_STALE_SECONDS"}},
)
def readyz() -> JSONResponse:
    stale_after = get_settings().ready_stale_seconds
    seen = jobs.last_sweep()
    age = time.time() - seen if seen else None
    ready = age is not None and age <= stale_after
    return JSONResponse(
        {
            "status": "ok" if ready else "stale",
            "last_sweep_seconds_ago": None if age is None else round(age, 1),
            "stale_after_seconds": stale_after,
        },
        status_code=200 if ready else 503,
    )
