"""The pages you read: log in and out, the sites, one site, one workbook (routes in WEB_SPEC.md).

GET pages are plain functions (Starlette runs them on its thread pool: the store is SQLite)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..assets import templates_dir
from . import auth, store, views
from .pages import render, require_site, require_user, require_workbook

STATIC = {"web.css": "text/css; charset=utf-8", "web.js": "text/javascript; charset=utf-8"}


def login_page(request):
    if auth.session_user(request) is not None:
        return RedirectResponse("/", status_code=303)
    return render(request, "login.html.j2")


async def login_post(request):
    form = await request.form(max_files=0, max_fields=10)
    if not auth.csrf_ok(request.session, form.get("csrf_token")):
        return render(request, "login.html.j2", status=403, error="The form expired; please try again.")
    name, password = str(form.get("username") or "")[:64], str(form.get("password") or "")[:1024]

    def check():
        conn = request.app.state.store.conn
        user = auth.check_password(conn, name, password)
        store.event(conn, name or "-", "login" if user else "login-failed")
        return user

    user = await run_in_threadpool(check)
    if user is None:
        return render(request, "login.html.j2", status=200, error="Wrong user name or password.")
    request.session.clear()                       # a new session: nothing carried over from before
    request.session["uid"] = user.id
    auth.csrf_token(request.session)
    return RedirectResponse("/", status_code=303)


async def logout(request):
    form = await request.form(max_files=0, max_fields=10)
    if not auth.csrf_ok(request.session, form.get("csrf_token")):
        raise HTTPException(403, "The form expired; please try again.")
    user = await run_in_threadpool(auth.session_user, request)
    if user is not None:
        await run_in_threadpool(lambda: store.event(request.app.state.store.conn, user.name, "logout"))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def home(request):
    user = require_user(request)
    if user.role == "coordinator":
        return RedirectResponse(f"/sites/{user.sites[0]}", status_code=303)
    return RedirectResponse("/sites", status_code=303)


def sites(request):
    user = require_user(request)
    conn = request.app.state.store.conn
    store.sync_workbooks(conn)
    rows = [views.site_summary(conn, s) for s in views.sites_for(request.app.state.inbox_real, conn, user)]
    return render(request, "sites.html.j2", user=user, sites=rows)


def site_page(request):
    user = require_user(request)
    site = require_site(user, request.path_params["site"])
    conn = request.app.state.store.conn
    store.sync_workbooks(conn)
    books = store.site_workbooks(conn, site)
    latest = next((b for b in books if b["status"] == "done" and b["workbook"] is not None), None)
    doc = views.check_document(request.app.state.out, conn, latest["workbook"]) if latest else None
    return render(request, "site.html.j2", user=user, site=site, workbooks=books, latest=latest,
                  rows=views.finding_rows(doc), queries=views.open_queries(conn, site),
                  summary=views.site_summary(conn, site))


def workbook_page(request):
    user = require_user(request)
    ww = require_workbook(request, user, request.path_params["id"])
    conn = request.app.state.store.conn
    doc = views.check_document(request.app.state.out, conn, ww["workbook"]) if ww["status"] == "done" else None
    outputs = views.last_outputs(conn, ww["workbook"]) if ww["status"] == "done" else {}
    return render(request, "workbook.html.j2", user=user, wb=ww, doc=doc, rows=views.finding_rows(doc),
                  outputs=outputs, queries=views.open_queries(conn, ww["site"], ww["id"]),
                  refresh=1 if ww["status"] in ("queued", "checking") else 0)


def activity(request):
    """The web audit trail: every site's for a data manager, their sites' for a monitor."""
    user = require_user(request)
    if user.role == "coordinator":
        raise HTTPException(403, "The activity log is for monitors and data managers.")
    conn = request.app.state.store.conn
    rows = store.events(conn, None if user.all_sites else list(user.sites), limit=500)
    return render(request, "activity.html.j2", user=user, events=rows)


def static(request):
    name = request.path_params["name"]
    if name not in STATIC:
        raise HTTPException(404, "Not found.")
    body = (templates_dir() / "web" / name).read_bytes()
    return Response(body, media_type=STATIC[name], headers={"Cache-Control": "max-age=300"})


ROUTES = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_post, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/", home, methods=["GET"]),
    Route("/sites", sites, methods=["GET"]),
    Route("/sites/{site}", site_page, methods=["GET"]),
    Route("/workbooks/{id:int}", workbook_page, methods=["GET"]),
    Route("/activity", activity, methods=["GET"]),
    Route("/static/{name}", static, methods=["GET"]),
]
