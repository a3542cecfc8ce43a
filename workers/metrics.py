"""Counts every job a worker finishes (app.metrics.JOBS) and tells the mail transport
which queue's job is sending, so sent and failed messages are counted per queue."""

from __future__ import annotations

import dramatiq
from dramatiq.common import q_name

from app.metrics import JOBS, set_current_queue


class JobMetrics(dramatiq.Middleware):
    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        set_current_queue(q_name(message.queue_name))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.Message,
        *,
        result: object = None,
        exception: BaseException | None = None,
    ) -> None:
        JOBS.labels(message.actor_name, "ok" if exception is None else "failed").inc()
        set_current_queue(None)

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        JOBS.labels(message.actor_name, "skipped").inc()
        set_current_queue(None)


def install(broker: dramatiq.Broker) -> None:
    if not any(isinstance(m, JobMetrics) for m in broker.middleware):
        broker.add_middleware(JobMetrics())
