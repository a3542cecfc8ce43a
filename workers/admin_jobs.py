"""Admins' long jobs: CSV imports (chunk by chunk, each committed with its checkpoint)
and CSV exports of a filtered subscriber list."""

import logging
import time

import dramatiq

from app.db import session_scope
from app.jobs import enqueue
from app.subscribers import exports, importer

log = logging.getLogger(__name__)

# One message works this long, then hands the rest to a fresh message, so no message
# outlives Dramatiq's time limit and other jobs on the queue get their turn.
SLICE_SECONDS = 30


@dramatiq.actor(
    actor_name=importer.RUN_IMPORT.name, queue_name=importer.RUN_IMPORT.queue, max_retries=0
)
def run_import(job_id: int) -> None:
    run = importer.ImportRun(job_id)
    started = time.monotonic()
    try:
        while True:
            with session_scope() as session:
                more = run.chunk(session)
                if more and time.monotonic() - started > SLICE_SECONDS:
                    enqueue(session, importer.RUN_IMPORT, job_id)  # sent with this commit
                    return
            if not more:
                return
    except importer.StaleRun:
        return  # another worker has it
    except Exception as exc:
        log.exception("import %s failed", job_id)
        with session_scope() as session:
            importer.fail(session, job_id, f"the import stopped: {type(exc).__name__}")


@dramatiq.actor(
    actor_name=exports.RUN_EXPORT.name,
    queue_name=exports.RUN_EXPORT.queue,
    max_retries=0,
    time_limit=3_600_000,
)
def run_export(export_id: int) -> None:
    try:
        with session_scope() as session:
            exports.build(session, export_id)
    except Exception as exc:
        log.exception("export %s failed", export_id)
        with session_scope() as session:
            exports.fail(session, export_id, f"the export stopped: {type(exc).__name__}")
