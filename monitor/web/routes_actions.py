"""The pages' forms and downloads: upload a workbook, accept / query / answer a finding, download
the annotated copy and the PDF summary. Every POST checks the session's CSRF token first; every
route checks the user may see the site before it reads or writes anything of it."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, RedirectResponse
from starlette.routing import Route

from ..batch import outputs as out_files
from ..batch.workflow import WorkflowError, act
from . import auth, store, views
from .jobs import Busy, Job
from .pages import page_error, render, require_site, require_user, require_workbook, safe_next
from .upload import Refused, display_name, save_upload

ACTIONS = {"accept": ("accepted", "reason"), "query": ("queried", "text"), "respond": ("answered", "response")}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def checked_form(request, max_files: int = 0):
    """The posted form, after its CSRF token matched the session's (403 otherwise)."""
    form = await request.form(max_files=max_files, max_fields=20)
    if not auth.csrf_ok(request.session, form.get("csrf_token")):
        raise HTTPException(403, "The form expired or did not come from this site; reload the page and try again.")
    return form


def store_upload(app, user, site: str, upload) -> tuple[int, Job]:
    """Save an upload in the site's inbox folder and queue its check (Refused, Busy)."""
    conn = app.state.store.conn
    original = display_name(getattr(upload, "filename", None))
    if upload is None or not hasattr(upload, "file"):
        raise Refused("choose a workbook (.xlsx) to upload")
    checker = app.state.checker
    if checker.q.full():
        raise Busy("the server is busy checking other workbooks; try again in a minute")
    try:
        rel = save_upload(app.state.inbox_real, site, upload.file, original, app.state.max_unpacked_mb)
    except Refused as e:
        store.event(conn, user.name, "refused", site, None, None, str(e))
        raise
    web_id = store.add_upload(conn, rel, site, original, user.name)
    store.event(conn, user.name, "upload", site, web_id, None, f"{original} -> {rel}")
    try:
        job = checker.submit(Job(web_id, rel, upload=True))
    except Busy as e:
        store.set_status(conn, web_id, "failed", str(e))
        checker._refuse(rel)
        raise
    return web_id, job


async def upload(request):
    user = await run_in_threadpool(require_user, request)
    site = require_site(user, request.path_params["site"])
    form = await checked_form(request, max_files=1)
    try:
        web_id, _ = await run_in_threadpool(store_upload, request.app, user, site, form.get("file"))
    except Refused as e:
        return page_error(request, e.code, str(e))
    except Busy as e:
        return page_error(request, 503, str(e), {"Retry-After": "30"})
    finally:
        await form.close()
    return RedirectResponse(f"/workbooks/{web_id}", status_code=303)


def do_action(request, user, verb: str, fid: str, form) -> str:
    """accept / query / respond: the state and its audit row (monitor.batch.workflow.act), the
    page's trail, and the outputs written again (annotated copy with the new status)."""
    action, field = ACTIONS[verb]
    if verb == "respond" and not user.may_respond:
        raise HTTPException(403, "Only the site's coordinator answers queries.")
    if verb != "respond" and not user.may_review:
        raise HTTPException(403, "Only monitors and data managers accept findings or open queries.")
    ww = require_workbook(request, user, form.get("workbook"))
    back = safe_next(form.get("next"), f"/workbooks/{ww['id']}")
    if ww["workbook"] is None:
        raise HTTPException(409, "The workbook has not been checked yet.")
    conn = request.app.state.store.conn
    ids = [fid]
    group = form.get("group")
    if group:
        doc = views.check_document(request.app.state.out, conn, ww["workbook"])
        ids = views.group_members(doc, str(group)) or [fid]
    text = str(form.get(field) or "").strip()
    hist = _Conn(conn)
    try:
        for one in ids:
            act(hist, ww["workbook"], ww["path"], one, action, text, user.name)
    except WorkflowError as e:
        raise HTTPException(400, str(e)) from None
    store.event(conn, user.name, action, ww["site"], ww["id"], fid,
                (f"{len(ids)} findings of group {group}: " if len(ids) > 1 else "") + text)
    try:
        request.app.state.checker.submit(Job(ww["id"], ww["path"]))   # outputs with the new status
    except Busy:
        pass                                   # the next check or nightly batch writes them
    return back


def _action(verb):
    async def endpoint(request):
        user = await run_in_threadpool(require_user, request)
        form = await checked_form(request)
        back = await run_in_threadpool(do_action, request, user, verb, request.path_params["fid"], form)
        return RedirectResponse(back, status_code=303)
    endpoint.__name__ = f"finding_{verb}"
    return endpoint


class _Conn:
    """What monitor.batch.workflow.act needs of a History: its connection and transactions."""

    def __init__(self, conn):
        self.conn = conn

    def _tx(self):
        return store.tx(self.conn)


def download_file(request, user, web_id, kind: str):
    ww = require_workbook(request, user, web_id)
    conn = request.app.state.store.conn
    path = views.output_file(request.app.state.out, conn, ww["workbook"], kind) if ww["status"] == "done" else None
    if path is not None:
        store.event(conn, user.name, "download", ww["site"], ww["id"], None, path.name)
    return ww, path


def annotated(request):
    user = require_user(request)
    ww, path = download_file(request, user, request.path_params["id"], out_files.ANNOTATED)
    if path is None:
        raise HTTPException(404, "The annotated copy is not available (the workbook is not checked yet, or "
                                 "could not be read).")
    return FileResponse(path, media_type=XLSX, filename=path.name)


def report(request):
    user = require_user(request)
    ww, path = download_file(request, user, request.path_params["id"], out_files.REPORT_PDF)
    if path is not None:
        return FileResponse(path, media_type="application/pdf", filename=path.name)
    if ww["status"] != "done":
        raise HTTPException(404, "The workbook is not checked yet.")
    try:
        request.app.state.checker.submit(Job(ww["id"], ww["path"], pdf=True))
    except Busy as e:
        return page_error(request, 503, str(e), {"Retry-After": "30"})
    return render(request, "preparing.html.j2", status=202, user=user, wb=ww, refresh=3)


ROUTES = [
    Route("/sites/{site}/upload", upload, methods=["POST"]),
    Route("/findings/{fid}/accept", _action("accept"), methods=["POST"]),
    Route("/findings/{fid}/query", _action("query"), methods=["POST"]),
    Route("/findings/{fid}/respond", _action("respond"), methods=["POST"]),
    Route("/workbooks/{id:int}/annotated.xlsx", annotated, methods=["GET"]),
    Route("/workbooks/{id:int}/report.pdf", report, methods=["GET"]),
]
