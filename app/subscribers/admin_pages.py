"""Admins import a CSV of addresses as pending subscriptions (each gets a re-permission
email; nobody imported is mailed a newsletter before confirming) and export filtered
subscriber lists. Both run as jobs; these pages start them and follow them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import Session, col, select
from starlette.datastructures import UploadFile

from app.admin_labels import SKIP_REASON_NAMES
from app.auth.deps import RequireAdmin
from app.db import SessionDep
from app.i18n import gettext as _
from app.members.forms import FormDep
from app.subscribers import exports, roster
from app.subscribers.importer import (
    MAX_FILE_BYTES,
    CsvImportError,
    ImportReport,
    start_import,
)
from app.subscribers.models import ExportJob, ImportJob, JobStatus, Topic
from app.subscribers.topics import pickable_topics
from app.web import CsrfProtected, redirect, render

router = APIRouter(prefix="/admin", include_in_schema=False)


def _page(request: Request, session: Session, status_code: int = 200, **context) -> Response:
    context.setdefault("chosen", set())
    recent = session.exec(select(ImportJob).order_by(col(ImportJob.id).desc()).limit(10)).all()
    return render(
        request,
        "admin/import.html",
        status_code=status_code,
        topics=pickable_topics(session),
        recent=recent,
        **context,
    )


@router.get("/import", response_class=HTMLResponse)
def import_form(request: Request, session: SessionDep, admin: RequireAdmin) -> Response:
    return _page(request, session)


@router.post("/import", response_class=HTMLResponse, dependencies=[CsrfProtected])
def import_upload(
    request: Request, session: SessionDep, admin: RequireAdmin, form: FormDep
) -> Response:
    chosen = {int(v) for v in form.getlist("topics") if str(v).isdigit()}
    upload = form.get("file")

    def problem(status: int, error: str) -> Response:
        return _page(request, session, status, chosen=chosen, error=error)

    if not isinstance(upload, UploadFile) or not upload.filename:
        return problem(422, _("Choose a CSV file to import."))
    raw = upload.file.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        return problem(413, _("The file is larger than 20 MB: split it and import the parts."))
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return problem(
            422, _("The file is not UTF-8 text: export it as “CSV UTF-8” and try again.")
        )
    topics = list(session.exec(select(Topic).where(col(Topic.id).in_(chosen))).all())
    try:
        job = start_import(
            session, content=content, filename=upload.filename, topics=topics, account_id=admin.id
        )
    except CsvImportError as exc:
        session.rollback()  # nothing stored, no job queued
        return problem(422, str(exc)[0].upper() + str(exc)[1:] + ".")
    return redirect(
        f"/admin/imports/{job.id}", _("%(file)s is being imported.", file=upload.filename)
    )


def _import_or_404(session: Session, import_id: int) -> ImportJob:
    job = session.get(ImportJob, import_id)
    if job is None:
        raise HTTPException(status_code=404, detail=_("There is no such import."))
    return job


def _progress(job: ImportJob) -> dict:
    report = ImportReport.from_json(job.report)
    return {
        "status": job.status.value,
        "filename": job.filename,
        "rows_done": job.rows_done,
        "total_rows": job.total_rows,
        "percent": 100 if not job.total_rows else job.rows_done * 100 // job.total_rows,
        "counts": report.counts,
        "skipped": report.skipped_count,
        "error": job.error,
    }


@router.get("/imports/{import_id}", response_class=HTMLResponse)
def import_progress_page(
    request: Request, session: SessionDep, admin: RequireAdmin, import_id: int
) -> Response:
    job = _import_or_404(session, import_id)
    return render(
        request,
        "admin/import_job.html",
        job=job,
        progress=_progress(job),
        report=ImportReport.from_json(job.report),
        reasons=SKIP_REASON_NAMES,
        running=job.status in (JobStatus.queued, JobStatus.running),
    )


@router.get("/imports/{import_id}/progress")
def import_progress(session: SessionDep, admin: RequireAdmin, import_id: int) -> JSONResponse:
    return JSONResponse(_progress(_import_or_404(session, import_id)))


# Exports ----------------------------------------------------------------------------


@router.post("/exports", dependencies=[CsrfProtected])
def export_start(session: SessionDep, admin: RequireAdmin, form: FormDep) -> Response:
    export = exports.start_export(
        session, filters=roster.Filters.from_query(form), account_id=admin.id
    )
    return redirect(f"/admin/exports/{export.id}", _("The export is being built."))


def _export_or_404(session: Session, export_id: int) -> ExportJob:
    export = session.get(ExportJob, export_id)
    if export is None:
        raise HTTPException(
            status_code=404, detail=_("There is no such export (they last 2 days).")
        )
    return export


@router.get("/exports/{export_id}", response_class=HTMLResponse)
def export_page(
    request: Request, session: SessionDep, admin: RequireAdmin, export_id: int
) -> Response:
    export = _export_or_404(session, export_id)
    return render(
        request,
        "admin/export.html",
        export=export,
        filters=exports.filters_of(export),
        running=export.status in (JobStatus.queued, JobStatus.running),
    )


@router.get("/exports/{export_id}/download")
def export_download(session: SessionDep, admin: RequireAdmin, export_id: int) -> Response:
    export = _export_or_404(session, export_id)
    if export.status != JobStatus.done:
        raise HTTPException(status_code=409, detail=_("The export is not ready yet."))
    return Response(
        export.content,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="subscribers-{export.id}.csv"',
            "Cache-Control": "no-store",
        },
    )
