"""Rendering pages and deciding who may see what, shared by the page routes.

Templates are templates/web/*.html.j2 (shipped as monitor/templates/web), rendered by a Jinja2
Environment with autoescape always on: every value from a workbook is text, never markup.
Access is decided here and only here: `require_user` (logged in, else to /login), `require_site`
(the site is one of the user's, else 403), `require_workbook` (the workbook's site, same).
"""

from __future__ import annotations

from functools import lru_cache

import jinja2
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, RedirectResponse

from ..assets import templates_dir
from . import auth, store

FORBIDDEN = "You do not have access to this site."


@lru_cache(maxsize=1)
def env() -> jinja2.Environment:
    e = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "web")), autoescape=True,
                           undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return e


def render(request, name: str, status: int = 200, headers=None, **ctx) -> HTMLResponse:
    user = ctx.pop("user", None)
    if user is None and "uid" in request.session:
        user = auth.session_user(request)
    html = env().get_template(name).render(user=user, csrf=auth.csrf_token(request.session), path=request.url.path,
                                           **ctx)
    return HTMLResponse(html, status_code=status, headers=headers)


def page_error(request, status: int, message: str, headers=None):
    if status in (301, 302, 303, 307) and headers and "Location" in headers:
        return RedirectResponse(headers["Location"], status_code=status)
    return render(request, "error.html.j2", status=status, message=message, code=status)


class LoginNeeded(HTTPException):
    def __init__(self):
        super().__init__(303, "log in first", headers={"Location": "/login"})


def require_user(request) -> store.User:
    user = auth.session_user(request)
    if user is None:
        raise LoginNeeded()
    return user


def require_site(user: store.User, site: str) -> str:
    if not store.valid_site(site) or not user.may_see(site):
        raise HTTPException(403, FORBIDDEN)
    return site


def require_workbook(request, user: store.User, web_id) -> dict:
    """The workbook of a page id the user may see (404 unknown, 403 another site's)."""
    try:
        wid = int(web_id)
    except (TypeError, ValueError):
        raise HTTPException(404, "No such workbook.") from None
    conn = request.app.state.store.conn
    store.sync_workbooks(conn)
    ww = store.web_workbook(conn, wid)
    if ww is None:
        raise HTTPException(404, "No such workbook.")
    if not user.may_see(ww["site"]):
        store.event(conn, user.name, "denied", None, None, None, f"workbook {wid} of another site")
        raise HTTPException(403, FORBIDDEN)
    return ww


def safe_next(value, fallback: str) -> str:
    """A same-site path to go back to after a form (never another host)."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return fallback
