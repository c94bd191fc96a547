"""What the pages and the API show, read from the history store and the outputs a check wrote:
plain dicts for the templates (which autoescape every value: nothing from a cell is markup).

A workbook's findings are those of its last check, from its findings.json (the same file `batch`
writes, with every row and its group id), grouped as the text output groups them
(monitor/grouping.py), with the workflow status read live from the store (so an accept shows at
once, before the outputs are written again).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from ..batch import outputs as out_files
from ..batch.workflow import states
from ..findings import FINDING_FIELDS, Finding
from ..grouping import Group, grouped
from . import store

SEVERITY_ORDER = ("critical", "major", "minor", "info")


def last_outputs(conn, wid: int | None) -> dict:
    """kind -> path (relative to OUT) of the workbook's last check (checked or skipped)."""
    if wid is None:
        return {}
    row = conn.execute("SELECT outputs FROM checks WHERE workbook=? AND status IN ('checked', 'skipped')"
                       " ORDER BY run DESC LIMIT 1", (wid,)).fetchone()
    return json.loads(row[0] or "{}") if row else {}


def output_file(out: Path, conn, wid: int | None, kind: str) -> Path | None:
    """The output file of that kind, if the last check wrote it and it is still inside OUT."""
    rel = last_outputs(conn, wid).get(kind)
    if not rel:
        return None
    out_real = Path(out).resolve()
    p = (out_real / rel).resolve()
    try:
        p.relative_to(out_real)
    except ValueError:
        return None
    return p if p.is_file() else None


@lru_cache(maxsize=64)
def _load_json(path: str, mtime_ns: int, size: int) -> dict:
    return json.loads(Path(path).read_text("utf-8"))


def check_document(out: Path, conn, wid: int | None) -> dict | None:
    """The check's JSON document (`monitor check --format json`) of the last check, with each
    finding's workflow fields as the store has them now."""
    p = output_file(out, conn, wid, out_files.FINDINGS_JSON)
    if p is None:
        return None
    st = p.stat()
    doc = json.loads(json.dumps(_load_json(str(p), st.st_mtime_ns, st.st_size)))   # a private copy
    flow = states(conn, wid)
    for f in doc.get("findings", ()):
        s = flow.get(f["id"]) or {}
        f.update(status=s.get("status", "open"), reason=s.get("reason"), query=s.get("query"),
                 response=s.get("response"))
    by_status = {k: 0 for k in ("open", "accepted", "queried", "answered")}
    for f in doc.get("findings", ()):
        by_status[f["status"]] = by_status.get(f["status"], 0) + 1
    doc.setdefault("summary", {})["by_status"] = by_status
    return doc


def finding_rows(doc: dict | None) -> list:
    """One row per line of the text output: a finding, or a group of one cause on many rows."""
    if not doc:
        return []
    by_id = {f["id"]: f for f in doc.get("findings", ())}
    objs = [Finding(**{k: f.get(k) for k in FINDING_FIELDS}) for f in doc.get("findings", ())]
    rows = []
    for item in grouped(objs):
        if isinstance(item, Group):
            first = by_id[item.first.id]
            statuses = {by_id[m.id]["status"] for m in item.members}
            status = statuses.pop() if len(statuses) == 1 else "open"
            rows.append({"id": first["id"], "group": first.get("group"), "severity": first["severity"],
                         "rule": first["rule"], "cell": item.cells_text(), "subject": item.subjects_text(),
                         "message": first["message"], "suggestion": first.get("suggestion"),
                         "count": item.count, "status": status, "query": first.get("query"),
                         "reason": first.get("reason"), "response": first.get("response"),
                         "mixed": len({by_id[m.id]["status"] for m in item.members}) > 1})
        else:
            f = by_id[item.id]
            rows.append({"id": f["id"], "group": None, "severity": f["severity"], "rule": f["rule"],
                         "cell": item.where, "subject": f.get("subject") or "", "message": f["message"],
                         "suggestion": f.get("suggestion"), "count": 1, "status": f["status"],
                         "query": f.get("query"), "reason": f.get("reason"), "response": f.get("response"),
                         "mixed": False})
    return rows


def group_members(doc: dict | None, group: str) -> list:
    return [f["id"] for f in (doc or {}).get("findings", ()) if f.get("group") == group]


def open_queries(conn, site: str, web_id: int | None = None) -> list:
    """The site's open queries (status queried) on findings its workbooks still have."""
    sql = ("SELECT ww.id AS web_id, ww.path, w.finding, w.query, w.by_name, w.at, f.severity, f.rule, f.sheet,"
           " f.cell, f.row, f.message FROM workflow w JOIN web_workbooks ww ON ww.workbook = w.workbook"
           " JOIN findings f ON f.workbook = w.workbook AND f.id = w.finding"
           " WHERE ww.site=? AND w.status='queried' AND f.resolved_run IS NULL")
    args = [site]
    if web_id is not None:
        sql += " AND ww.id=?"
        args.append(web_id)
    rows = [dict(r) for r in conn.execute(sql + " ORDER BY ww.id DESC, w.at", args)]
    for r in rows:
        r["where"] = f"{r['sheet']}!{r['cell']}" if r["sheet"] and r["cell"] else (r["sheet"] or "-")
    return rows


def sites_for(inbox_real: Path, conn, user) -> list:
    """The sites the user may see: the inbox's folders and the sites of accounts."""
    names = {p.name for p in inbox_real.iterdir() if p.is_dir() and not p.name.startswith(".")
             and store.valid_site(p.name)} if inbox_real.is_dir() else set()
    names |= {r[0] for r in conn.execute("SELECT DISTINCT site FROM user_sites")}
    names |= {r[0] for r in conn.execute("SELECT DISTINCT site FROM web_workbooks")}
    return sorted(s for s in names if user.may_see(s))


def site_summary(conn, site: str) -> dict:
    """The site's latest workbook, new/resolved at its last check, open findings by severity."""
    books = [b for b in store.site_workbooks(conn, site)]
    latest = next((b for b in books if b["status"] == "done" and b["workbook"] is not None), None)
    out = {"site": site, "latest": latest, "workbooks": len(books),
           "open": {s: 0 for s in SEVERITY_ORDER}, "new": None, "resolved": None}
    if latest is not None:
        out["new"], out["resolved"] = latest.get("new"), latest.get("resolved")
        for sev, n in conn.execute(
                "SELECT f.severity, COUNT(*) FROM findings f LEFT JOIN workflow w ON w.workbook = f.workbook"
                " AND w.finding = f.id WHERE f.workbook=? AND f.resolved_run IS NULL"
                " AND COALESCE(w.status, 'open') != 'accepted' GROUP BY 1", (latest["workbook"],)):
            out["open"][sev] = n
    return out
