"""What the operator sees while a run works: a rich progress bar on a terminal, log lines otherwise."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Literal

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeRemainingColumn

from service.batch.worker import ChunkStats

log = logging.getLogger(__name__)

ProgressMode = Literal["auto", "bar", "log", "none"]


class RunProgress:
    """Tracks progress in input bytes (Parquet rows scaled to bytes) and shows records, rate, ETA, hits."""

    def __init__(self, mode: ProgressMode, total_units: float, done_units: float, done_records: int,
                 console: Console, log_every: float = 10.0) -> None:
        if mode == "auto":
            mode = "bar" if console.is_terminal else "log"
        self.mode = mode
        self.total = max(total_units, 1.0)
        self.start_units = done_units
        self.log_every = log_every
        self.started = time.monotonic()
        self.start_records = done_records
        self._last_log = self.started
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        if mode == "bar":
            self._bar = Progress(
                TextColumn("[bold]screening"), BarColumn(), TaskProgressColumn(),
                TextColumn("{task.fields[records]} records"), TextColumn("{task.fields[rate]}/s"),
                TextColumn("ETA"), TimeRemainingColumn(), TextColumn("hits {task.fields[hits]}"),
                TextColumn("{task.fields[bad]}"),
                console=console, transient=False, refresh_per_second=4,
            )
            self._task = self._bar.add_task("screening", total=self.total, completed=int(done_units),
                                            records="0", rate="-", hits="0", bad="")
            self._bar.start()

    def update(self, done_units: float, stats: ChunkStats) -> None:
        """Show the state after a committed chunk."""
        now = time.monotonic()
        # records screened by an earlier attempt (before --resume) do not count towards this attempt's rate
        rate = (stats.records - self.start_records) / max(now - self.started, 1e-9)
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done_units, records=f"{stats.records:,}",
                             rate=f"{rate:,.0f}", hits=f"{stats.hits:,}",
                             bad=f"bad rows {stats.bad_rows:,}" if stats.bad_rows else "")
        elif self.mode == "log" and now - self._last_log >= self.log_every:
            self._last_log = now
            log.info("%s", self.describe(done_units, stats, rate, now))

    def describe(self, done_units: float, stats: ChunkStats, rate: float, now: float) -> str:
        fraction = min(done_units / self.total, 1.0)
        speed = (done_units - self.start_units) / max(now - self.started, 1e-9)
        eta = "-" if speed <= 0 else str(timedelta(seconds=round((self.total - done_units) / speed)))
        return (f"screened {stats.records:,} records ({fraction:.1%}), {rate:,.0f} records/s, ETA {eta}, "
                f"hits {stats.hits:,}, bad rows {stats.bad_rows:,}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
