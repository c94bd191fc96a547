"""`monitor batch`: check every workbook of an inbox folder, skip the unchanged ones, record history.

    inbox -> discover (sorted by relative path) -> hash each file -> unchanged since its last check
    (same bytes, profile content, tool version and limits) and its outputs still there? skipped
    : checked in a worker process -> outputs written by the worker (atomically) -> the main
    process records the result in monitor.db (one transaction per workbook) -> batch.json.

Results do not depend on --jobs: the clock is fixed at the start of the run and passed to every
check, each workbook is checked on its own, and everything is reported sorted by relative path.
One unreadable workbook is recorded as `error` and the batch goes on; a worker process that dies
(a crash in a C library, out of memory) is retried alone and, if it dies again, recorded as
`error` for its workbook only.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from ..findings import Severity
from ..io import atomic_write_text, sha256_file
from . import outputs as out_files
from .files import Candidate, Ignored, classify, discover, file_stem, is_inside, out_rel, safe_join
from .history import History, Previous
from .lock import FolderLock

BATCH_JSON = "batch.json"
EXIT_OK, EXIT_FINDINGS, EXIT_UNREADABLE, EXIT_INTERRUPTED = 0, 1, 2, 130


class BatchError(Exception):
    """The batch cannot run at all (inbox missing, --out inside the inbox, folder locked ...)."""


@dataclass
class BatchOptions:
    inbox: Path
    out: Path
    profile: object                      # a loaded monitor.profile.Profile
    fail_on: Severity = Severity.MAJOR
    jobs: int | None = None              # None: the number of cores
    force: bool = False
    max_unpacked_mb: float = 200
    kind: str = "batch"                  # batch | watch (recorded in the history)
    pdf: bool = True                     # per-workbook PDF summaries and batch-summary.pdf
    lock_timeout: float = 600.0


@dataclass
class Entry:
    """One workbook's line in batch.json."""

    path: str
    sha256: str | None
    status: str                          # checked | skipped | error
    error: str | None = None
    findings: int | None = None
    by_severity: dict | None = None
    new: int | None = None
    persisting: int | None = None
    resolved: int | None = None
    outputs: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    out_dir: str | None = None
    seconds: float | None = None         # not in batch.json (it would differ between runs)

    def to_dict(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "status": self.status, "error": self.error,
                "findings": self.findings, "by_severity": self.by_severity, "new": self.new,
                "persisting": self.persisting, "resolved": self.resolved, "out_dir": self.out_dir,
                "outputs": self.outputs, "notes": self.notes}

    def count_at_least(self, threshold: Severity) -> int:
        if not self.by_severity:
            return 0
        return sum(n for s, n in self.by_severity.items() if Severity(s).rank >= threshold.rank)


@dataclass
class BatchReport:
    run_id: int
    started: str
    finished: str | None
    inbox: str
    out: str
    profile: str
    tool_version: str
    fail_on: str
    workbooks: list
    ignored: list
    exit_code: int | None = None
    outputs: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    interrupted: bool = False

    def totals(self) -> dict:
        t = {"workbooks": len(self.workbooks), "checked": 0, "skipped": 0, "error": 0, "findings": 0,
             "by_severity": {s.value: 0 for s in Severity}, "new": 0, "resolved": 0}
        for e in self.workbooks:
            t[e.status] += 1
            t["findings"] += e.findings or 0
            for s, n in (e.by_severity or {}).items():
                t["by_severity"][s] += n
            t["new"] += e.new or 0
            t["resolved"] += e.resolved or 0
        return t

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "started": self.started, "finished": self.finished,
                "inbox": self.inbox, "out": self.out, "profile": self.profile,
                "tool_version": self.tool_version, "fail_on": self.fail_on, "exit_code": self.exit_code,
                "totals": self.totals(), "outputs": self.outputs, "notes": self.notes,
                "workbooks": [e.to_dict() for e in self.workbooks],
                "ignored": [{"path": i.rel, "reason": i.reason} for i in self.ignored]}


def exit_code(entries: list, threshold: Severity) -> int:
    """Over the whole batch: 2 if any workbook is unreadable, else 1 if any workbook (checked now
    or unchanged since its last check) has a finding at or above the threshold, else 0."""
    if any(e.status == "error" for e in entries):
        return EXIT_UNREADABLE
    if any(e.count_at_least(threshold) for e in entries):
        return EXIT_FINDINGS
    return EXIT_OK


def profile_sha256(profile) -> str:
    """The profile's content (parsed TOML, so comments and layout do not count) and name."""
    raw = json.dumps({"name": profile.name, "raw": getattr(profile, "raw", {})}, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def config_key(profile_hash: str, max_unpacked_mb: float) -> str:
    """What, beside the bytes, decides a workbook's findings: profile, tool version, size limit."""
    raw = json.dumps({"profile": profile_hash, "tool_version": __version__,
                      "max_unpacked_mb": float(max_unpacked_mb)}, sort_keys=True)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _utc(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------------------- worker side
# Top-level functions only: they are pickled by name into spawned worker processes.

_WORKER_PROFILE = None


def init_worker(profile) -> None:
    """Worker start: keep the profile; leave Ctrl-C to the main process, which stops the pool."""
    global _WORKER_PROFILE
    _WORKER_PROFILE = profile
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def check_one(task: dict) -> dict:
    """Check one workbook and write its outputs. Never raises for a bad workbook."""
    from ..check import check_workbook
    from ..workbook.reader import WorkbookError

    t0 = time.perf_counter()
    src, out_dir, out_root = Path(task["path"]), Path(task["out_dir"]), Path(task["out_root"])
    now = datetime.fromisoformat(task["now"])
    names = out_files.file_names(task["stem"])
    try:
        result = check_workbook(src, _WORKER_PROFILE, today=now.date(), now=now,
                                max_unpacked_mb=task["max_unpacked_mb"])
    except WorkbookError as e:
        return _error(task, str(e), t0)
    except Exception as e:  # a reader bug must not stop the batch either
        return _error(task, f"internal error while reading the workbook: {type(e).__name__}: {e}", t0)
    try:
        outputs, notes = out_files.write_workbook_outputs(
            src, result, out_dir, out_root, task["stem"], frozenset(task.get("previous_ids", ())), now,
            _WORKER_PROFILE, task.get("pdf", True))
    except Exception as e:
        return _error(task, f"outputs could not be written: {type(e).__name__}: {e}", t0, result.sha256)
    return {"status": "checked", "sha256": result.sha256, "error": None,
            "findings": [f.to_dict() for f in result.findings], "outputs": outputs, "notes": notes,
            "seconds": time.perf_counter() - t0, "names": names}


def _error(task: dict, message: str, t0: float, sha256: str | None = None) -> dict:
    message = message.replace(task["path"], task["rel"])
    return {"status": "error", "sha256": sha256 or task.get("sha256"), "error": message,
            "findings": None, "outputs": {}, "notes": {}, "seconds": time.perf_counter() - t0}


# ---------------------------------------------------------------------------- main side

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
            raise BatchError(f"{self.out}: cannot create the output folder ({e.strerror or e})") from None
        self.jobs = max(1, opts.jobs or default_jobs())
        self.profile_hash = profile_sha256(opts.profile)
        self.key = config_key(self.profile_hash, opts.max_unpacked_mb)
        self.lock = FolderLock(self.out / ".monitor.lock")
        self._pool = None

    # -- the worker pool (spawned processes: no fork of a process with threads or polars loaded)
    def _get_pool(self, n: int):
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(
                max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker, initargs=(self.opts.profile,))
        return self._pool

    def _drop_pool(self, wait: bool = True):
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def close(self):
        self._drop_pool()

    # -- one run
    def run(self, only: list | None = None, write_batch_json: bool = True) -> BatchReport:
        """Check the inbox (or just `only`, a list of paths inside it) once."""
        if not self.lock.acquire(self.opts.lock_timeout, on_wait=self._say_waiting):
            raise BatchError(f"{self.out} is in use by another monitor run ({self.lock.holder()}); "
                             "try again when it has finished")
        try:
            with History(self.out) as hist:
                return self._run(hist, only, write_batch_json)
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
        if last_inbox and last_inbox != str(self.inbox_real):
            report.notes["inbox"] = (f"this output folder was last used for {last_inbox}; workbooks are "
                                     "matched by their path relative to the inbox")
        out_files.clean_temp_files(self.out)
        candidates, report.ignored = self._candidates(only)
        expected = out_files.expected_kinds(opts.pdf)
        entries, tasks = {}, []
        if self.progress is not None:
            self.progress.start(len(candidates))
        try:
            for c in candidates:
                e, task = self._plan(hist, run, c, now, expected)
                if e is not None:
                    entries[c.rel] = e
                    if self.progress is not None:
                        self.progress.done(e)
                if task is not None:
                    tasks.append(task)
            if self.progress is not None:
                self.progress.checking(len(tasks))
            for task, res in self._execute(tasks):
                try:
                    e = self._record(hist, run, task, res)
                except OSError as err:   # disk full, permissions: that workbook, not the batch
                    res = _error(task, f"{task['rel']}: outputs could not be written ({err.strerror or err})",
                                 time.perf_counter(), res.get("sha256"))
                    hist.record_error(run, task["workbook_id"], res["sha256"], res["error"])
                    e = Entry(task["rel"], res["sha256"], "error", error=res["error"], out_dir=task["out_rel"])
                entries[task["rel"]] = e
                if self.progress is not None:
                    self.progress.done(e)
        except BaseException:   # Ctrl-C, SIGTERM, or a bug: the run is recorded as cut short
            self._drop_pool(wait=True)
            hist.finish_run(run, _utc(datetime.now(timezone.utc)), EXIT_INTERRUPTED, status="interrupted")
            raise
        report.workbooks = [entries[k] for k in sorted(entries)]
        report.exit_code = exit_code(report.workbooks, opts.fail_on)
        if write_batch_json:
            self._summary_pdf(report)
        report.finished = _utc(datetime.now(timezone.utc))
        if write_batch_json:
            report.outputs["batch_json"] = BATCH_JSON
            atomic_write_text(self.out / BATCH_JSON, json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
        hist.finish_run(run, report.finished, report.exit_code)
        if self.progress is not None:
            self.progress.finish(report)
        return report

    def _plan(self, hist: History, run: int, c: Candidate, now: datetime, expected: set):
        """Skip (-> Entry), error (-> Entry) or check (-> task) one workbook."""
        wid, out_dir = hist.ensure_workbook(c.rel, out_rel(c.rel), run)
        try:
            target = safe_join(self.out, out_dir, self.inbox_real)
        except ValueError as e:
            hist.record_error(run, wid, None, str(e))
            return Entry(c.rel, None, "error", error=str(e), out_dir=out_dir), None
        try:
            sha = sha256_file(c.path)
        except OSError as e:
            msg = f"{c.rel}: cannot be read ({e.strerror or e})"
            hist.record_error(run, wid, None, msg)
            return Entry(c.rel, None, "error", error=msg, out_dir=out_dir), None
        prev = hist.previous(wid)
        if not self.opts.force and self._unchanged(prev, sha, expected):
            n_open = hist.record_skipped(run, wid, prev, sha)
            return Entry(c.rel, sha, "skipped", findings=prev.findings, by_severity=prev.by_severity,
                         new=0, persisting=n_open, resolved=0, outputs=prev.outputs, notes=prev.notes,
                         out_dir=out_dir), None
        stem = file_stem(c.rel)
        out_files.clean_temp_files(target)
        return None, {"rel": c.rel, "path": str(c.path), "out_dir": str(target), "out_root": str(self.out.resolve()),
                      "stem": stem, "sha256": sha, "now": now.isoformat(), "workbook_id": wid,
                      "out_rel": out_dir, "max_unpacked_mb": self.opts.max_unpacked_mb, "pdf": self.opts.pdf,
                      "previous_ids": sorted(hist.open_ids(wid)), "size": _size(c.path),
                      "previous_run": prev.run if prev else None}

    def _unchanged(self, prev: Previous | None, sha: str, expected: set) -> bool:
        if prev is None or prev.sha256 != sha or prev.config_key != self.key:
            return False
        for kind in expected:        # every output still on disk (or known not to be writable)
            if kind in prev.outputs:
                if not (self.out / prev.outputs[kind]).is_file():
                    return False
            elif kind not in prev.notes or kind == out_files.REPORT_PDF and (
                    "not installed" in prev.notes[kind] or "not requested" in prev.notes[kind]):
                return False
        return True

    def _execute(self, tasks: list):
        """Yield (task, result) as the checks finish; in this process when one job is enough."""
        if not tasks:
            return
        if self.jobs == 1 or (len(tasks) == 1 and self._pool is None):
            init_worker_in_process(self.opts.profile)
            for t in tasks:
                yield t, check_one(t)
            return
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        pending = {t["rel"]: t for t in tasks}
        order = sorted(tasks, key=lambda t: (-t["size"], t["rel"]))   # big files first: better balance
        pool = self._get_pool(min(self.jobs, len(tasks)) if self.opts.kind == "batch" else self.jobs)
        futures = {pool.submit(check_one, t): t for t in order}
        broken = False
        try:
            for fut in as_completed(futures):
                t = futures[fut]
                try:
                    res = fut.result()
                except BrokenProcessPool:
                    broken = True
                    continue
                except Exception as e:   # pickling trouble and the like: that workbook only
                    res = _error(t, f"internal error: {type(e).__name__}: {e}", time.perf_counter())
                pending.pop(t["rel"], None)
                yield t, res
        finally:
            if broken:
                self._drop_pool(wait=False)
        # a worker died: retry each unfinished workbook alone, so only the culprit fails
        for t in sorted(pending.values(), key=lambda t: t["rel"]):
            yield t, self._isolated(t)

    def _isolated(self, t: dict) -> dict:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=init_worker, initargs=(self.opts.profile,))
        try:
            return pool.submit(check_one, t).result()
        except BrokenProcessPool:
            return _error(t, f"{t['rel']}: the checker process died while reading this workbook "
                             "(crash or out of memory); it was skipped", time.perf_counter())
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

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
        outputs = dict(res["outputs"])
        p = atomic_write_text(out_dir / names[out_files.CHANGES_JSON], json.dumps(
            {"path": rel, "run_id": run, "previous_run": task["previous_run"],
             "new": [f for f in findings if f["id"] not in previous],
             "persisting": sorted(current & previous),
             "resolved": sorted(previous - current)}, ensure_ascii=False, indent=2) + "\n")
        outputs[out_files.CHANGES_JSON] = p.relative_to(self.out.resolve()).as_posix()
        diff = hist.record_checked(run, wid, sha256=res["sha256"], config_key=self.key, findings=findings,
                                   outputs=outputs, notes=res["notes"], seconds=res.get("seconds"))
        sev = {s.value: 0 for s in Severity}
        for f in findings:
            sev[f["severity"]] += 1
        return Entry(rel, res["sha256"], "checked", findings=len(findings), by_severity=sev,
                     new=len(diff.new), persisting=len(diff.persisting), resolved=len(diff.resolved),
                     outputs=outputs, notes=res["notes"], out_dir=task["out_rel"], seconds=res.get("seconds"))

    def _summary_pdf(self, report: BatchReport):
        from .summary import write_summary_pdf

        if not self.opts.pdf:
            from .summary import SUMMARY_PDF

            out_files.remove_stale(self.out, [SUMMARY_PDF])
            report.outputs["summary_pdf"] = None
            report.notes["summary_pdf"] = "batch-summary.pdf not requested (--no-pdf)"
            return
        try:
            path, note = write_summary_pdf(self.out, report)
        except Exception as e:   # the PDF is a convenience: batch.json and the exit code stand
            path, note = None, f"batch-summary.pdf not written: {type(e).__name__}: {e}"
        report.outputs["summary_pdf"] = path
        if note:
            report.notes["summary_pdf"] = note


def init_worker_in_process(profile) -> None:
    global _WORKER_PROFILE
    _WORKER_PROFILE = profile


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
