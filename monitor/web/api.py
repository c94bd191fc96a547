"""The JSON API for integrations (Authorization: Bearer TOKEN from `monitor users token`).

    POST /api/workbooks                  multipart `file` (+ `site` for a user of several sites):
                                         201 with the check's JSON (`monitor check --format json`),
                                         its `id` and `links`; 400/413 {"error": the line check prints}
    GET  /api/workbooks/{id}             200 the same JSON, statuses as they are now
    GET  /api/workbooks/{id}/annotated   the annotated copy (xlsx)
    GET  /api/workbooks/{id}/report      the PDF summary (written on first request, then kept)

No or unknown token: 401. A workbook of a site the user may not see: 404 (its existence is not
told). Sessions and cookies are ignored here, so there is no CSRF to defend against.
"""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Route

from ..batch import outputs as out_files
from . import auth, store, views
from .jobs import Busy, Job
from .routes_actions import XLSX, store_upload
from .upload import Refused

WAIT_SECONDS = 900


def _user(request) -> store.User:
    user = auth.bearer_user(request)
    if user is None:
        raise HTTPException(401, "a valid bearer token is required (monitor users token NAME --out DIR)",
                            headers={"WWW-Authenticate": "Bearer"})
    return user


def _workbook(request, user, web_id) -> dict:
    conn = request.app.state.store.conn
    store.sync_workbooks(conn)
    ww = store.web_workbook(conn, int(web_id))
    if ww is None or not user.may_see(ww["site"]):
        if ww is not None:
            store.event(conn, user.name, "denied", None, None, None, f"api: workbook {web_id} of another site")
        raise HTTPException(404, "no such workbook")
    return ww


def _links(web_id: int) -> dict:
    base = f"/api/workbooks/{web_id}"
    return {"self": base, "annotated": f"{base}/annotated", "report": f"{base}/report"}


def document(request, ww: dict) -> dict:
    if ww["status"] != "done":
        return {"id": ww["id"], "status": ww["status"], "error": ww["error"], "links": _links(ww["id"])}
    doc = views.check_document(request.app.state.out, request.app.state.store.conn, ww["workbook"]) or {}
    return dict(doc, workbook=ww["path"], id=ww["id"], status="done", links=_links(ww["id"]))


async def post_workbook(request):
    user = await run_in_threadpool(_user, request)
    form = await request.form(max_files=1, max_fields=10)
    try:
        site = str(form.get("site") or "").strip()
        if not site:
            if len(user.sites) != 1:
                raise HTTPException(400, "give the form field `site` (you have several sites)")
            site = user.sites[0]
        if not store.valid_site(site) or not user.may_see(site):
            raise HTTPException(403, "you do not have access to this site")
        try:
            web_id, job = await run_in_threadpool(store_upload, request.app, user, site, form.get("file"))
        except Refused as e:
            return JSONResponse({"error": str(e)}, status_code=e.code)
        except Busy as e:
            return JSONResponse({"error": str(e)}, status_code=503, headers={"Retry-After": "30"})
    finally:
        await form.close()
    try:
        res = await asyncio.wait_for(job.wait_future(), WAIT_SECONDS)
    except asyncio.TimeoutError:
        return JSONResponse({"id": web_id, "status": "checking", "links": _links(web_id)}, status_code=202)
    if res["status"] != "done":
        err = res["error"] or "the workbook could not be checked"
        return JSONResponse({"error": err, "id": web_id},
                            status_code=413 if "limit" in err else 400)
    ww = await run_in_threadpool(lambda: store.web_workbook(request.app.state.store.conn, web_id))
    body = await run_in_threadpool(document, request, ww)
    return JSONResponse(body, status_code=201, headers={"Location": f"/api/workbooks/{web_id}"})


def get_workbook(request):
    user = _user(request)
    ww = _workbook(request, user, request.path_params["id"])
    return JSONResponse(document(request, ww))


def _file(request, kind):
    user = _user(request)
    ww = _workbook(request, user, request.path_params["id"])
    conn = request.app.state.store.conn
    path = views.output_file(request.app.state.out, conn, ww["workbook"], kind) if ww["status"] == "done" else None
    if path is not None:
        store.event(conn, user.name, "download", ww["site"], ww["id"], None, f"api: {path.name}")
    return ww, path


def get_annotated(request):
    ww, path = _file(request, out_files.ANNOTATED)
    if path is None:
        raise HTTPException(404, "the annotated copy is not available")
    return FileResponse(path, media_type=XLSX, filename=path.name)


async def get_report(request):
    ww, path = await run_in_threadpool(_file, request, out_files.REPORT_PDF)
    if path is None:
        if ww["status"] != "done":
            raise HTTPException(404, "the workbook is not checked yet")
        try:
            job = request.app.state.checker.submit(Job(ww["id"], ww["path"], pdf=True))
        except Busy as e:
            return JSONResponse({"error": str(e)}, status_code=503, headers={"Retry-After": "30"})
        try:
            await asyncio.wait_for(job.wait_future(), WAIT_SECONDS)
        except asyncio.TimeoutError:
            return JSONResponse({"status": "preparing"}, status_code=202, headers={"Retry-After": "30"})
        ww, path = await run_in_threadpool(_file, request, out_files.REPORT_PDF)
        if path is None:
            raise HTTPException(404, "the PDF summary could not be written")
    return FileResponse(path, media_type="application/pdf", filename=path.name)


ROUTES = [
    Route("/api/workbooks", post_workbook, methods=["POST"]),
    Route("/api/workbooks/{id:int}", get_workbook, methods=["GET"]),
    Route("/api/workbooks/{id:int}/annotated", get_annotated, methods=["GET"]),
    Route("/api/workbooks/{id:int}/report", get_report, methods=["GET"]),
]
