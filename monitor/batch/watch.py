"""`monitor watch`: check each workbook dropped into (or saved again in) the inbox once it has
stopped changing.

watchdog (inotify on Linux, FSEvents on macOS, ReadDirectoryChangesW on Windows; or polling with
--poll, for network shares that send no events) reports created / modified / moved / closed
files. Each workbook-looking path is kept pending until its size and modification time have not
changed for `settle` seconds, then checked with the same Runner as `monitor batch` (same outputs,
same history, same skipping of unchanged bytes). Excel lock files (`~$*.xlsx`), hidden and
temporary files and links outside the inbox are never checked (see files.py). A file that could
not be read and has changed since is queued again, so a copy that paused longer than `settle`
is checked when it completes.

Ctrl-C (SIGINT) or SIGTERM (systemd stop) ends the watch cleanly: the observer thread is
stopped, running checks finish (their outputs are written atomically), exit code 0.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from datetime import datetime
from pathlib import Path

from .console import PlainProgress, entry_line
from .files import ignore_reason, is_inside, looks_like_workbook


class WatchProgress(PlainProgress):
    """A timestamped line per workbook the watch looked at (unchanged ones too)."""

    def _say(self, text: str):
        if not self.quiet:
            print(f"{datetime.now().strftime('%H:%M:%S')} {text}", file=self.stream, flush=True)

    def checking(self, n: int):
        pass

    def done(self, e):
        if e.status == "skipped":
            self._say(f"unchanged {e.path} (same bytes, profile and version as its last check)")
        else:
            self._say(entry_line(e))


def _handler(events: "queue.Queue"):
    from watchdog.events import FileSystemEventHandler

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event):
            if event.event_type in ("deleted", "opened", "closed_no_write"):
                return
            if event.is_directory and event.event_type not in ("created", "moved"):
                return   # a folder's own "modified" event says nothing new about its files
            paths = [getattr(event, "dest_path", "") or "", event.src_path] if event.event_type == "moved" \
                else [event.src_path]
            for p in paths:
                if p:
                    events.put((os.fsdecode(p), event.is_directory))

    return Handler()


class Watcher:
    def __init__(self, runner, settle: float = 2.0, poll: bool = False, poll_interval: float = 1.0,
                 initial: bool = True, say=print, tick: float = 0.2):
        self.runner = runner
        self.inbox = runner.inbox
        self.inbox_real = runner.inbox_real
        self.settle = settle
        self.poll = poll
        self.poll_interval = poll_interval
        self.initial = initial
        self.say = say
        self.tick = tick
        self.events: queue.Queue = queue.Queue()
        self.pending: dict = {}          # path -> ((size, mtime_ns), since monotonic)
        self.stop_event = threading.Event()
        self.runs = 0

    def _observer(self):
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        handler = _handler(self.events)
        if not self.poll:
            try:
                obs = Observer()
                obs.schedule(handler, str(self.inbox_real), recursive=True)
                obs.start()
                return obs
            except OSError as e:   # inotify watch limit and the like
                self.say(f"file events unavailable ({e}); polling every {self.poll_interval:g} s instead")
        obs = PollingObserver(timeout=self.poll_interval)
        obs.schedule(handler, str(self.inbox_real), recursive=True)
        obs.start()
        return obs

    def _take_events(self, timeout: float):
        try:
            item = self.events.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            path, is_dir = item
            self._consider(Path(path), is_dir)
            try:
                item = self.events.get_nowait()
            except queue.Empty:
                return

    def _consider(self, path: Path, is_dir: bool):
        if not is_inside(path, self.inbox_real):
            return
        rel = path.relative_to(self.inbox_real)
        if any(part.startswith(".") for part in rel.parts):
            return
        if is_dir:   # a whole folder moved in: its workbooks may come with no event of their own
            for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for f in filenames:
                    if looks_like_workbook(f) and ignore_reason(f) is None:
                        self.pending.setdefault(Path(dirpath) / f, None)
            return
        if looks_like_workbook(path.name) and ignore_reason(path.name) is None:
            self.pending[path] = None        # (re)start its quiet period

    def _ready(self) -> list:
        now = time.monotonic()
        ready = []
        for path, state in list(self.pending.items()):
            try:
                st = os.stat(path)
            except OSError:
                del self.pending[path]       # gone (a temp file renamed away, or deleted)
                continue
            sig = (st.st_size, st.st_mtime_ns)
            if state is None or state[0] != sig:
                self.pending[path] = (sig, now)
            elif now - state[1] >= self.settle:
                ready.append((path, sig))
        for path, _ in ready:
            del self.pending[path]
        return ready

    def _process(self, ready: list):
        from .runner import BatchError

        try:
            report = self.runner.run(only=[p for p, _ in ready], write_batch_json=False)
        except BatchError as e:          # the folder busy with a long batch: try these again later
            self.say(f"not checked yet: {e}")
            for p, _ in ready:
                self.pending[p] = None
            return
        self.runs += 1
        sigs = {p.relative_to(self.inbox_real).as_posix(): sig for p, sig in ready}
        for e in report.workbooks:
            if e.status != "error":
                continue
            p = self.inbox_real / e.path
            try:
                st = os.stat(p)
            except OSError:
                continue
            if (st.st_size, st.st_mtime_ns) != sigs.get(e.path):   # still being written: again later
                self.pending[p] = None

    def stop(self):
        self.stop_event.set()

    def run(self) -> int:
        previous = {}
        if threading.current_thread() is threading.main_thread():
            def _term(signum, frame):
                raise KeyboardInterrupt
            previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, _term)
        observer = None
        try:
            observer = self._observer()
            self.say(f"watching {self.inbox} (outputs in {self.runner.out}; Ctrl-C to stop)")
            if self.initial:
                self.runner.run(write_batch_json=False)
                self.runs += 1
            while not self.stop_event.is_set():
                self._take_events(self.tick)
                ready = self._ready()
                if ready:
                    self._process(ready)
        except KeyboardInterrupt:
            pass
        finally:
            if observer is not None:
                observer.stop()
                observer.join(timeout=5)
            self.runner.close()
            for sig, h in previous.items():
                signal.signal(sig, h)
        self.say("stopped")
        return 0
