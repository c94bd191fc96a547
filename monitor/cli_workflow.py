"""`monitor accept`, `monitor query` and `monitor responses`: the findings workflow's commands
(their bodies are in monitor/batch/workflow_commands.py). cli.py registers them on its app."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    BY = typer.Option(None, "--by", help="Who acts (kept in the audit trail) (default: $MONITOR_USER or the login name).")
    STORE = typer.Option(None, "--out", help="The folder of the history store (monitor.db): check's or batch's --out "
                         "(default: output/, then output/batch/).")


    @app.command(epilog='Example: monitor accept site07.xlsx 3f1c2a9b --reason "confirmed against source" --by "A. Monitor"')
    def accept(
        workbook: str = typer.Argument(..., help="The workbook (its file, or its path as batch lists it)."),
        finding_id: str = typer.Argument(..., help="The finding's id (or its first 6+ characters)."),
        reason: str = typer.Option(..., "--reason", help="Why: confirmed against source, or the protocol allows it."),
        by: Optional[str] = BY,
        out: Optional[Path] = STORE,
    ):
        """Mark a finding accepted: it stays listed with its reason but no longer fails check or batch."""
        from .batch.workflow_commands import act_command

        raise typer.Exit(act_command("accepted", workbook, finding_id, reason, by, out))


    @app.command(epilog='Example: monitor query site07.xlsx 9a2b7c11 --text "Please confirm the dose against the pharmacy log"')
    def query(
        workbook: str = typer.Argument(..., help="The workbook (its file, or its path as batch lists it)."),
        finding_id: str = typer.Argument(..., help="The finding's id (or its first 6+ characters)."),
        text: str = typer.Option(..., "--text", help="The question to the site."),
        by: Optional[str] = BY,
        out: Optional[Path] = STORE,
    ):
        """Open a query on a finding; the annotated copy shows it, and the site answers in its Response column."""
        from .batch.workflow_commands import act_command

        raise typer.Exit(act_command("queried", workbook, finding_id, text, by, out))


    @app.command(epilog="Example: monitor responses site07-annotated.xlsx")
    def responses(
        annotated: Path = typer.Argument(..., help="An annotated copy with answers typed in its Findings sheet's "
                                         "Response column."),
        by: Optional[str] = typer.Option(None, "--by", help="Who answered (default: the copy's last author)."),
        out: Optional[Path] = typer.Option(None, "--out", help="The history folder (default: the one the copy was "
                                           "written from)."),
        max_unpacked_mb: float = typer.Option(200, "--max-unpacked-mb", help="Unpacked size limit."),
    ):
        """Record the responses typed into an annotated copy (status answered); the copy is only read."""
        from .batch.workflow_commands import responses_command

        raise typer.Exit(responses_command(annotated, out, by, max_unpacked_mb))
