"""`create_app(inbox, out, ...)`: the Starlette ASGI app of `monitor serve` (docs/web.md).

Pages (routes_pages.py, routes_actions.py) and the JSON API (api.py) over the same inbox, outputs
and history as `monitor batch`; checks run off the request thread (jobs.py). Every response
carries a strict Content-Security-Policy; the session cookie is signed (itsdangerous), HttpOnly,
SameSite=Lax, and Secure with --https-only or when the request came over TLS (a reverse proxy's
X-Forwarded-Proto, trusted as uvicorn's --forwarded-allow-ips says).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import JSONResponse

from . import store

CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SESSION_COOKIE = "monitor_session"
SESSION_HOURS = 8
SECRET_FILE = ".web-session-key"     # hidden: never taken for a workbook's output folder


class SecurityHeaders:
    """Pure ASGI middleware: the security headers on every response (errors too), Secure on the
    session cookie when the request came over https, no caching of pages that hold data."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        https = scope.get("scheme") == "https"

        async def wrapped(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"content-security-policy", b"x-content-type-options",
                                                b"referrer-policy", b"x-frame-options")]
                if https:
                    headers = [(k, v + b"; Secure") if k.lower() == b"set-cookie" and b"secure" not in v.lower()
                               else (k, v) for k, v in headers]
                headers += [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, wrapped)


class BodyLimit:
    """Refuse a request body over `limit` bytes while it arrives (Content-Length or not): the
    upload handlers see TooLarge from request.form() and answer 413."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        seen = 0
        limit = self.limit
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")

        async def counted():
            nonlocal seen
            if declared.isdigit() and int(declared) > limit:
                raise TooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge(limit)
            return message

        await self.app(scope, counted, send)


class TooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"the upload is over the upload limit of {limit / 1048576:.1f} MB (set by "
                         "--max-unpacked-mb: an .xlsx unpacks to about its own size or more); refused")


def session_secret(out: Path) -> str:
    """MONITOR_WEB_SECRET, else a random key kept (mode 600) in OUT/.web-session-key."""
    env = os.environ.get("MONITOR_WEB_SECRET")
    if env:
        return env
    path = Path(out) / SECRET_FILE
    try:
        return path.read_text("ascii").strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
        return key


def create_app(inbox, out, profile=None, jobs: int | None = None, max_queue: int = 64,
               max_unpacked_mb: float = 200.0, https_only: bool = False, start_checker: bool = True):
    """The app. Raises BatchError (inbox missing, --out inside it) or HistoryError (store unusable)."""
    from ..batch.model import BatchOptions, default_jobs
    from ..profile.profile import load_profile
    from ..workbook.snapshot import Snapshot
    from . import api, routes_actions, routes_pages
    from .jobs import Checker
    from .pages import page_error

    prof = profile if profile is not None and not isinstance(profile, str) else load_profile(profile)
    opts = BatchOptions(inbox=Path(inbox), out=Path(out), profile=prof, jobs=jobs or default_jobs(),
                        max_unpacked_mb=max_unpacked_mb, kind="web", pdf=False)
    from ..batch.runner import Runner

    Runner(opts).close()     # refuses a missing inbox or an --out inside it before anything is written
    st = store.Store(Path(out))
    checker = Checker(opts, st, max_queue) if start_checker else None

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        if checker is not None:
            checker.close()

    routes = routes_pages.ROUTES + routes_actions.ROUTES + api.ROUTES

    async def http_error(request, exc: HTTPException):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return page_error(request, exc.status_code, exc.detail, exc.headers)

    async def too_large(request, exc: TooLarge):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=413)
        return page_error(request, 413, str(exc))

    app = Starlette(routes=routes, middleware=[
        Middleware(SecurityHeaders),
        Middleware(BodyLimit, limit=Snapshot.limit_for(max_unpacked_mb) + (1 << 20)),
        Middleware(SessionMiddleware, secret_key=session_secret(Path(out)), session_cookie=SESSION_COOKIE,
                   max_age=SESSION_HOURS * 3600, same_site="lax", https_only=https_only),
    ], exception_handlers={HTTPException: http_error, TooLarge: too_large}, lifespan=lifespan)
    app.state.store = st
    app.state.checker = checker
    app.state.inbox_real = Path(inbox).resolve()
    app.state.out = Path(out).resolve()
    app.state.max_unpacked_mb = max_unpacked_mb
    return app
