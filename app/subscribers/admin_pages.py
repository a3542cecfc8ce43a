"""Admins import a CSV of addresses as pending subscriptions (each gets a re-permission
email; nobody imported is mailed a newsletter before confirming)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select
from starlette.datastructures import UploadFile

from app.auth.deps import RequireAdmin
from app.db import SessionDep
from app.subscribers.importer import MAX_FILE_BYTES, CsvImportError, import_csv
from app.subscribers.models import Topic
from app.subscribers.topics import pickable_topics
from app.web import CsrfProtected, render

router = APIRouter(prefix="/admin", include_in_schema=False)


def _page(request: Request, session: Session, status_code: int = 200, **context) -> Response:
    topics = pickable_topics(session)
    context.setdefault("chosen", set())
    return render(request, "admin/import.html", status_code=status_code, topics=topics, **context)


@router.get("/import", response_class=HTMLResponse)
def import_form(request: Request, session: SessionDep, admin: RequireAdmin) -> Response:
    return _page(request, session)


@router.post("/import", response_class=HTMLResponse, dependencies=[CsrfProtected])
async def import_upload(request: Request, session: SessionDep, admin: RequireAdmin) -> Response:
    form = await request.form()
    chosen = {int(v) for v in form.getlist("topics") if str(v).isdigit()}
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, session, 422, chosen=chosen, error="Choose a CSV file to import.")
    raw = await upload.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        return _page(
            request,
            session,
            413,
            chosen=chosen,
            error="The file is larger than 5 MB: split it and import the parts.",
        )
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _page(
            request,
            session,
            422,
            chosen=chosen,
            error="The file is not UTF-8 text: export it as “CSV UTF-8” and try again.",
        )
    topics = list(session.exec(select(Topic).where(col(Topic.id).in_(chosen))).all())
    try:
        report = import_csv(session, content=content, topics=topics)
    except CsvImportError as exc:
        session.rollback()  # nothing half-imported, no email queued
        return _page(request, session, 422, chosen=chosen, error=str(exc))
    return _page(request, session, chosen=chosen, report=report, filename=upload.filename)
