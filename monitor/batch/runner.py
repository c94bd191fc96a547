"""`monitor batch`: check every workbook of an inbox folder, skip the unchanged ones, record history.

    lock -> history quick_check (a damaged database is refused) -> online backup -> discover
    (sorted by relative path) -> hash each file -> unchanged since its last check (same bytes,
    same key: profile, limits, the package's code and data) and its outputs on disk with the
    SHA-256 recorded for them? skipped : checked in a worker process, from one snapshot of the
    workbook's bytes, within a time and memory bound -> outputs written atomically by the worker
    -> the main process records the result in monitor.db (one transaction per workbook) ->
    batch.json with the news since the last completed run.

Results do not depend on --jobs: the clock is fixed at the start of the run and passed to every
check, each workbook is checked on its own, and everything is reported sorted by relative path.
An unreadable workbook is `error` (exit 2) and the batch goes on. A failure of the run itself
(disk full, permissions, database) stops it: the run row ends `failed` with the reason, exit 3,
and nothing unfinished is recorded as done.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from ..findings import Severity
from ..io import atomic_write_text, sha256_file
from . import outputs as out_files
from .files import Candidate, Ignored, classify, discover, file_stem, is_inside, out_rel, safe_join
from .history import History, HistoryError, Previous
from .keys import code_sha256, config_key, profile_sha256
from .lock import FolderLock
from .model import (BATCH_JSON, EXIT_FAILED, EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK,  # noqa: F401
                    EXIT_UNREADABLE, BatchError, BatchOptions, BatchReport, Entry, RunFailure, _utc,
                    default_jobs, exit_code)
from .worker import check_one, fault, init_worker, is_operational, os_error_line  # noqa: F401

BACKUP_EVERY = 3600.0     # watch: at most one integrity check and backup per hour


class Runner:
    """Runs batches over one inbox into one output folder. `monitor watch` keeps one Runner (and
    its worker pool) for its whole life; `monitor batch` makes one run."""

    def __init__(self, opts: BatchOptions, progress=None):
        self.opts = opts
        self.progress = progress
        self.inbox = Path(opts.inbox)
        if not self.inbox.is_dir():
            raise BatchError(f"{self.inbox}: no such folder" if not self.inbox.exists()
                             else f"{self.inbox}: not a folder")
        self.inbox_real = self.inbox.resolve()
        self.out = Path(opts.out)
        if is_inside(self.out.resolve(), self.inbox_real):
            raise BatchError(f"--out {self.out} is inside the inbox {self.inbox}; the monitor never "
                             "writes into the inbox: choose a folder outside it")
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunFailure(f"{self.out}: cannot create the output folder ({e.strerror or e})") from None
        self.jobs = max(1, opts.jobs or default_jobs())
        self.profile_hash = profile_sha256(opts.profile)
        self.key = config_key(self.profile_hash, opts.max_unpacked_mb, code_sha256())
        self.lock = FolderLock(self.out / ".monitor.lock")
        self._pool = None
        self._checked_at = None       # when this Runner last checked and backed up the history

    # -- the worker pool (spawned processes: no fork of a process with threads or polars loaded)
    def _in_process(self, n_tasks: int) -> bool:
        """One job and no bound asked for: check here (no process to start)."""
        return self.jobs == 1 and not self.opts.workbook_timeout and not self.opts.workbook_memory_mb \
            and self._pool is None

    def _get_pool(self, n: int):
        from .pool import Pool

        if self._pool is None:
            self._pool = Pool(n, self.opts.profile, self.opts.workbook_timeout, self.opts.workbook_memory_mb)
        return self._pool

    def _drop_pool(self, wait: bool = True):
        if self._pool is not None:
            self._pool.close(wait=wait)
            self._pool = None

    def close(self):
        self._drop_pool()

    # -- one run
    def run(self, only: list | None = None, write_batch_json: bool = True) -> BatchReport:
        """Check the inbox (or just `only`, a list of paths inside it) once."""
        from .integrity import DamagedHistory, backup, refuse_if_damaged

        lock_path = self.lock.path
        try:
            got = self.lock.acquire(self.opts.lock_timeout, on_wait=self._say_waiting)
        except OSError as e:
            raise RunFailure(f"{os_error_line(e, str(lock_path))}; the output folder must be writable") from None
        if not got:
            raise RunFailure(f"{self.out} is in use by another monitor run ({self.lock.holder()}); "
                             "try again when it has finished")
        try:
            due = self._checked_at is None or time.monotonic() - self._checked_at > BACKUP_EVERY
            try:
                if due:
                    refuse_if_damaged(self.out)
                with History(self.out) as hist:
                    if due:
                        try:
                            backup(hist.conn, self.out, hist.next_run_id())
                        except (OSError, sqlite3.Error) as e:
                            cause = os_error_line(e) if isinstance(e, OSError) else str(e)
                            raise RunFailure(f"{self.out / 'monitor.db.backup'}: the history could not be "
                                             f"backed up before the run ({cause})") from None
                        self._checked_at = time.monotonic()
                    return self._run(hist, only, write_batch_json)
            except DamagedHistory as e:
                raise RunFailure(str(e)) from None
            except HistoryError as e:
                raise RunFailure(str(e)) from None
            except sqlite3.Error as e:
                raise RunFailure(f"{self.out / 'monitor.db'}: {_sqlite_cause(e)}") from None
            except OSError as e:
                raise RunFailure(os_error_line(e, str(self.out))) from None
        finally:
            self.lock.release()

    def _say_waiting(self, holder: str):
        if self.progress is not None:
            self.progress.note(f"waiting for another monitor run to finish ({holder}) ...")

    def _candidates(self, only) -> tuple[list, list]:
        if only is None:
            return discover(self.inbox)
        found, ignored = [], []
        for p in sorted({Path(p) for p in only}):
            p = p if p.is_absolute() else self.inbox / p
            try:
                rel = p.parent.resolve().joinpath(p.name).relative_to(self.inbox_real).as_posix()
            except ValueError:
                continue
            path = self.inbox_real / rel
            reason = classify(self.inbox_real, path) if path.exists() or path.is_symlink() else "no longer there"
            (ignored.append(Ignored(rel, reason)) if reason else found.append(Candidate(rel, path)))
        return found, ignored

    def _run(self, hist: History, only, write_batch_json: bool) -> BatchReport:
        opts = self.opts
        now = datetime.now(timezone.utc).replace(microsecond=0)
        last_inbox = hist.last_inbox()
        run = hist.start_run(started=_utc(now), inbox=str(self.inbox_real), profile=opts.profile.name,
                             profile_sha256=self.profile_hash, tool_version=__version__,
                             fail_on=opts.fail_on.value, jobs=self.jobs, forced=opts.force, kind=opts.kind)
        report = BatchReport(run, _utc(now), None, str(self.inbox_real), str(self.out.resolve()),
                             opts.profile.name, __version__, opts.fail_on.value, [], [])
        try:
            return self._run_body(hist, run, now, report, last_inbox, only, write_batch_json)
        except KeyboardInterrupt:   # Ctrl-C, SIGTERM: the run is recorded as cut short
            self._drop_pool(wait=False)
            _best_effort(hist.finish_run, run, _utc(datetime.now(timezone.utc)), EXIT_INTERRUPTED,
                         "interrupted", "interrupted (Ctrl-C or SIGTERM)")
            raise
        except BaseException as e:  # disk, permissions, database, or a bug: the run failed, loudly
            self._drop_pool(wait=False)
            reason = _reason(e, self.out)
            _best_effort(hist.finish_run, run, _utc(datetime.now(timezone.utc)), EXIT_FAILED, "failed", reason)
            if isinstance(e, RunFailure):
                raise
            raise RunFailure(reason) from None

    def _run_body(self, hist, run, now, report, last_inbox, only, write_batch_json) -> BatchReport:
        opts = self.opts
        if last_inbox and last_inbox != str(self.inbox_real):
            report.notes["inbox"] = (f"this output folder was last used for {last_inbox}; workbooks are "
                                     "matched by their path relative to the inbox")
        out_files.clean_temp_files(self.out, recursive=True)   # left by a killed run
        candidates, report.ignored = self._candidates(only)
        expected = out_files.expected_kinds(opts.pdf)
        entries, tasks, ids = {}, [], {}
        if self.progress is not None:
            self.progress.start(len(candidates))
        for c in candidates:
            e, task, wid = self._plan(hist, run, c, now, expected)
            ids[c.rel] = wid
            if e is not None:
                entries[c.rel] = e
                if self.progress is not None:
                    self.progress.done(e)
            if task is not None:
                tasks.append(task)
        if self.progress is not None:
            self.progress.checking(len(tasks))
        for task, res in self._execute(tasks):
            if res["status"] == "failed":
                raise RunFailure(f"{res['error']}; {task['rel']} and the workbooks after it were not "
                                 "recorded (the next run checks them)")
            fault("main-before-record")
            e = self._record(hist, run, task, res)
            fault("main-after-record")
            entries[task["rel"]] = e
            if self.progress is not None:
                self.progress.done(e)
        report.workbooks = [entries[k] for k in sorted(entries)]
        if write_batch_json:
            self._news(hist, run, report, ids)
        report.exit_code = exit_code(report.workbooks, opts.fail_on)
        if write_batch_json:
            self._summary_pdf(report)
        report.finished = _utc(datetime.now(timezone.utc))
        if write_batch_json:
            fault("main-before-batch-json")
            report.outputs["batch_json"] = BATCH_JSON
            atomic_write_text(self.out / BATCH_JSON, json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
        hist.finish_run(run, report.finished, report.exit_code)
        if self.progress is not None:
            self.progress.finish(report)
        return report

    def _news(self, hist: History, run: int, report: BatchReport, ids: dict):
        """new / resolved per workbook since the last completed batch run (a killed or failed run
        in between never wrote batch.json: its news is reported here)."""
        since = hist.last_completed(run)
        report.news_since_run = since
        news = hist.news_since(since)
        for e in report.workbooks:
            new, resolved = news.get(ids.get(e.path), ([], []))
            if e.status == "error" and not (new or resolved):
                continue
            e.new, e.resolved = len(new), len(resolved)
            if e.findings is not None:
                e.persisting = max(0, e.findings - e.new)

    def _plan(self, hist: History, run: int, c: Candidate, now: datetime, expected: set):
        """Skip (-> Entry), error (-> Entry) or check (-> task) one workbook."""
        wid, out_dir = hist.ensure_workbook(c.rel, out_rel(c.rel), run)
        try:
            target = safe_join(self.out, out_dir, self.inbox_real)
        except ValueError as e:
            hist.record_error(run, wid, None, str(e))
            return Entry(c.rel, None, "error", error=str(e), out_dir=out_dir), None, wid
        try:
            sha = sha256_file(c.path)
        except OSError as e:
            msg = f"{c.rel}: cannot be read ({e.strerror or e})"
            hist.record_error(run, wid, None, msg)
            return Entry(c.rel, None, "error", error=msg, out_dir=out_dir), None, wid
        prev = hist.previous(wid)
        if not self.opts.force and self._unchanged(prev, sha, expected):
            n_open = hist.record_skipped(run, wid, prev, sha)
            return Entry(c.rel, sha, "skipped", findings=prev.findings, by_severity=prev.by_severity,
                         new=0, persisting=n_open, resolved=0, outputs=prev.outputs, notes=prev.notes,
                         out_dir=out_dir), None, wid
        return None, {"rel": c.rel, "path": str(c.path), "out_dir": str(target), "out_root": str(self.out.resolve()),
                      "stem": file_stem(c.rel), "sha256": sha, "now": now.isoformat(), "workbook_id": wid,
                      "out_rel": out_dir, "max_unpacked_mb": self.opts.max_unpacked_mb, "pdf": self.opts.pdf,
                      "previous_ids": sorted(hist.open_ids(wid)), "size": _size(c.path),
                      "previous_run": prev.run if prev else None}, wid

    def _unchanged(self, prev: Previous | None, sha: str, expected: set) -> bool:
        """Same bytes and key as the last check, and every output it should have written is on disk
        with the SHA-256 recorded for it (a file from another version, or from a run killed before
        it recorded, does not pass). An output that failed is never taken as done."""
        if prev is None or prev.sha256 != sha or prev.config_key != self.key:
            return False
        for kind in expected:
            rel, want = prev.outputs.get(kind), prev.hashes.get(kind)
            if rel is None or want is None:
                return False
            try:
                if sha256_file(self.out / rel) != want:
                    return False
            except OSError:
                return False
        return True

    def _execute(self, tasks: list):
        """Yield (task, result) as the checks finish: in worker processes with their bounds, or
        here when one job and no bound is asked for."""
        if not tasks:
            return
        if self._in_process(len(tasks)):
            init_worker(self.opts.profile)
            import monitor.batch.runner as me

            for t in tasks:
                yield t, me.check_one(t)
            return
        import monitor.batch.runner as me

        n = min(self.jobs, len(tasks)) if self.opts.kind == "batch" else self.jobs
        pool = self._get_pool(n)
        order = sorted(tasks, key=lambda t: (-t["size"], t["rel"]))   # big files first: better balance
        yield from pool.run(order, me.check_one)

    def _record(self, hist: History, run: int, task: dict, res: dict) -> Entry:
        wid, rel, out_dir = task["workbook_id"], task["rel"], Path(task["out_dir"])
        names = out_files.file_names(task["stem"])
        if res["status"] == "error":
            out_dir.mkdir(parents=True, exist_ok=True)
            # stale outputs of an earlier check would pass for current ones: remove them
            out_files.remove_stale(out_dir, [names[k] for k in (out_files.FINDINGS_JSON, out_files.FINDINGS_CSV,
                                                                out_files.ANNOTATED, out_files.REPORT_PDF,
                                                                out_files.CHANGES_JSON)])
            p = atomic_write_text(out_dir / names[out_files.ERROR_JSON], json.dumps(
                {"path": rel, "run_id": run, "sha256": res["sha256"], "error": res["error"]},
                ensure_ascii=False, indent=2) + "\n")
            outputs = {out_files.ERROR_JSON: p.relative_to(self.out.resolve()).as_posix()}
            hist.record_error(run, wid, res["sha256"], res["error"], res.get("seconds"))
            return Entry(rel, res["sha256"], "error", error=res["error"], outputs=outputs,
                         out_dir=task["out_rel"], seconds=res.get("seconds"))
        findings = res["findings"]
        # the change list first, then the history: a run cut between the two re-checks next time
        current = {f["id"] for f in findings}
        previous = set(task["previous_ids"])
        outputs, hashes = dict(res["outputs"]), dict(res.get("hashes") or {})
        p = atomic_write_text(out_dir / names[out_files.CHANGES_JSON], json.dumps(
            {"path": rel, "run_id": run, "previous_run": task["previous_run"], "sha256": res["sha256"],
             "new": [f for f in findings if f["id"] not in previous],
             "persisting": sorted(current & previous),
             "resolved": sorted(previous - current)}, ensure_ascii=False, indent=2) + "\n")
        outputs[out_files.CHANGES_JSON] = p.relative_to(self.out.resolve()).as_posix()
        hashes[out_files.CHANGES_JSON] = sha256_file(p)
        diff = hist.record_checked(run, wid, sha256=res["sha256"], config_key=self.key, findings=findings,
                                   outputs=outputs, notes=res["notes"], seconds=res.get("seconds"),
                                   hashes=hashes)
        sev = {s.value: 0 for s in Severity}
        for f in findings:
            sev[f["severity"]] += 1
        return Entry(rel, res["sha256"], "checked", findings=len(findings), by_severity=sev,
                     new=len(diff.new), persisting=len(diff.persisting), resolved=len(diff.resolved),
                     outputs=outputs, notes=res["notes"], out_dir=task["out_rel"], seconds=res.get("seconds"))

    def _summary_pdf(self, report: BatchReport):
        from .summary import SUMMARY_PDF, write_summary_pdf

        if not self.opts.pdf:
            out_files.remove_stale(self.out, [SUMMARY_PDF])
            report.outputs["summary_pdf"] = None
            report.notes["summary_pdf"] = "batch-summary.pdf not requested (--no-pdf)"
            return
        try:
            path, note = write_summary_pdf(self.out, report)
        except Exception as e:   # the PDF is a convenience: batch.json and the exit code stand
            if is_operational(e):
                raise
            path, note = None, f"batch-summary.pdf not written: {type(e).__name__}: {e}"
        report.outputs["summary_pdf"] = path
        if note:
            report.notes["summary_pdf"] = note


def _sqlite_cause(e: sqlite3.Error) -> str:
    text = str(e) or type(e).__name__
    if "malformed" in text or "not a database" in text:
        return (f"the history database is damaged ({text}); see `monitor history --restore` "
                "(docs/batch.md, failures and recovery)")
    return f"the history database could not be written ({text})"


def _reason(e: BaseException, out: Path) -> str:
    """One line for a failed run: the path and the cause."""
    if isinstance(e, RunFailure):
        return str(e)
    if isinstance(e, OSError):
        return os_error_line(e, str(out))
    if isinstance(e, sqlite3.Error):
        return f"{out / 'monitor.db'}: {_sqlite_cause(e)}"
    return f"internal error: {type(e).__name__}: {e}"


def _best_effort(fn, *args):
    """Record the end of a run if the database still takes writes (it may be what failed)."""
    try:
        fn(*args)
    except Exception:
        pass


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def run_batch(opts: BatchOptions, progress=None) -> BatchReport:
    runner = Runner(opts, progress)
    try:
        return runner.run()
    finally:
        runner.close()
