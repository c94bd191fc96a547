"""`monitor serve` and `monitor users`: the web pages and their accounts (monitor/web/, docs/web.md).
cli.py registers them on its app."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer


def _err(msg: str, code: int = 2):
    typer.echo(f"monitor: {msg}", err=True)
    raise typer.Exit(code)


def _store(out: Path):
    from .batch.history import HistoryError
    from .web.store import Store

    try:
        return Store(out)
    except HistoryError as e:
        _err(str(e), 3)


def register(app: typer.Typer) -> None:
    users = typer.Typer(no_args_is_help=True, help="Accounts of the web pages (`monitor serve`), kept in the "
                        "history store of --out.", context_settings={"help_option_names": ["-h", "--help"]})
    app.add_typer(users, name="users")
    OUT = typer.Option(..., "--out", help="The output folder `monitor serve` uses (its monitor.db holds the users).")

    @app.command(epilog="Example: monitor serve inbox --out monitor-out --port 8080")
    def serve(
        inbox: Path = typer.Argument(..., help="The inbox folder: one sub-folder per site (as `monitor batch`)."),
        out: Path = typer.Option(..., "--out", help="The output folder and history store (as `monitor batch --out`)."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (put a TLS reverse proxy in "
                                 "front for anything but this machine: docs/web.md)."),
        port: int = typer.Option(8080, "--port", help="Port to listen on."),
        jobs: Optional[int] = typer.Option(None, "--jobs", help="Worker processes checking workbooks "
                                           "(default: the number of cores)."),
        max_queue: int = typer.Option(64, "--max-queue", help="Uploads waiting for a check before the server "
                                      "answers 'busy' (HTTP 503)."),
        max_unpacked_mb: float = typer.Option(200, "--max-unpacked-mb", help="Refuse workbooks that unpack to "
                                              "more than this (zip bombs); the upload size limit follows it."),
        profile: Optional[str] = typer.Option(None, "--profile", help="Protocol profile (as `monitor batch`)."),
        https_only: bool = typer.Option(False, "--https-only", help="Send the session cookie only over https "
                                        "(behind a TLS reverse proxy)."),
        forwarded_allow_ips: str = typer.Option("127.0.0.1", "--forwarded-allow-ips", help="Proxies whose "
                                                "X-Forwarded-Proto/-For are trusted (comma-separated)."),
    ):
        """Serve the web pages and JSON API: upload a workbook, see its findings, answer queries."""
        import uvicorn

        from .batch.history import HistoryError
        from .batch.model import BatchError
        from .profile.profile import ProfileError, load_profile
        from .web.app import create_app

        if port < 0 or port > 65535 or max_queue < 1 or (jobs is not None and jobs < 1) or max_unpacked_mb <= 0:
            _err("--port must be 0-65535, --max-queue and --jobs at least 1, --max-unpacked-mb > 0")
        try:
            prof = load_profile(profile)
        except ProfileError as e:
            _err(f"profile error: {e}")
        try:
            web = create_app(inbox, out, prof, jobs=jobs, max_queue=max_queue, max_unpacked_mb=max_unpacked_mb,
                             https_only=https_only)
        except BatchError as e:
            _err(str(e), e.code)
        except HistoryError as e:
            _err(str(e), 3)
        except OSError as e:
            _err(f"{e.filename or out}: {e.strerror or e}", 3)
        config = uvicorn.Config(web, host=host, port=port, log_level="warning", proxy_headers=True,
                                forwarded_allow_ips=forwarded_allow_ips, server_header=False,
                                timeout_graceful_shutdown=5)
        server = uvicorn.Server(config)

        async def announce():
            while not server.started:
                import asyncio

                await asyncio.sleep(0.05)
            sockets = [s for srv in getattr(server, "servers", []) for s in srv.sockets]
            real_port = sockets[0].getsockname()[1] if sockets else port
            print(f"Serving on http://{host}:{real_port} (inbox {inbox}, outputs {out}; Ctrl-C stops)", flush=True)

        async def main():
            import asyncio

            task = asyncio.create_task(announce())
            await server.serve()
            task.cancel()

        import asyncio

        asyncio.run(main())
        if not server.started:
            _err(f"could not listen on {host}:{port}", 3)

    @users.command("add", epilog="Example: echo 's3cret-pass' | monitor users add alice --role coordinator "
                   "--site site01 --password-stdin --out monitor-out")
    def users_add(
        name: str = typer.Argument(..., help="The user name to log in with."),
        role: str = typer.Option(..., "--role", help="coordinator (one site), monitor (their sites) or "
                                 "data-manager (all sites)."),
        site: List[str] = typer.Option([], "--site", help="A site (inbox folder); repeat for a monitor's sites."),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from the first "
                                            "line of stdin (required: never on the command line)."),
        out: Path = OUT,
    ):
        """Add a user of the web pages; the password is stored as an argon2 hash."""
        from .web.store import StoreError, add_user

        if not password_stdin:
            _err("give --password-stdin and the password on stdin (a password on the command line would be "
                 "kept in the shell history)")
        password = sys.stdin.readline().rstrip("\r\n")
        st = _store(out)
        try:
            user = add_user(st.conn, name, role, site, password)
        except StoreError as e:
            _err(str(e))
        typer.echo(f"added {user.name} ({user.role}" + (f": {', '.join(user.sites)}" if user.sites else "")
                   + f") to {st.path}")

    @users.command("token", epilog="Example: monitor users token alice --out monitor-out")
    def users_token(
        name: str = typer.Argument(..., help="The user."),
        out: Path = OUT,
    ):
        """Print a new API bearer token for the user (only its hash is stored: keep it safe)."""
        from .web.store import new_token, user_by_name

        st = _store(out)
        user = user_by_name(st.conn, name)
        if user is None:
            _err(f"no user {name!r} in {st.path}")
        typer.echo(new_token(st.conn, user))

    @users.command("list", epilog="Example: monitor users list --out monitor-out")
    def users_list(out: Path = OUT):
        """List the users with their role and sites."""
        from .web.store import list_users

        st = _store(out)
        for u in list_users(st.conn):
            typer.echo(f"{u.name}\t{u.role}\t{','.join(u.sites) or '(all sites)'}")
