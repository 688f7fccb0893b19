"""Writers of the screening log that commit whatever has queued up together (group commit).

``ScreeningWriter`` is one thread fed by a queue, for synchronous callers. ``AsyncScreeningWriter`` does the
same on an event loop, for the API. On SQLite it writes on the loop itself when the write lock is free
(a WAL commit with ``synchronous=NORMAL`` does no fsync: a fraction of a millisecond), and from a thread
when another connection holds the lock, so the loop never waits for a lock. bench/load.py measured the
on-loop write at about 20% more requests/s than a thread: a thread that must win the GIL back from a busy
event loop after each database call waits up to the interpreter's switch interval (5 ms) each time.
On PostgreSQL every commit is a round trip to the server, so it always runs in a thread.

The rest of this note applies to both.

Why: a commit per request costs a round trip (and on PostgreSQL an fsync) per screening and, on SQLite,
makes request threads queue for the single write lock. Here request handlers hand their rows to the writer
and wait for the commit that includes them; the writer takes everything waiting (up to ``max_batch_rows``)
into one transaction. Under load batches grow by themselves, so throughput rises while each request still
waits for at most about two commits.

Trade-off: the response is only sent once its screening is committed, so a crash loses no screening that a
caller was told about; the price is the commit latency inside every request. On a clean shutdown
``close()`` writes everything submitted before it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from service.errors import StoreError
from service.store.screenings import ScreeningRepository

log = logging.getLogger(__name__)


@dataclass
class _Submission:
    rows: Sequence[dict[str, Any]]
    done: Future[None]


BatchObserver = Callable[[int, float], None]


class ScreeningWriter:
    """Queue of screening rows written by one thread; ``submit`` returns a future set once committed."""

    def __init__(self, repository: ScreeningRepository, *, max_batch_rows: int = 500,
                 on_batch: BatchObserver | None = None) -> None:
        self._repository = repository
        self._max_batch_rows = max_batch_rows
        self._on_batch = on_batch
        self._queue: queue.SimpleQueue[_Submission | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="screening-log-writer", daemon=True)
        self._pending_rows = 0

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the writer thread is running and accepting rows."""
        return self._thread.is_alive() and not self._closed

    @property
    def pending_rows(self) -> int:
        """Rows submitted but not yet committed."""
        return self._pending_rows

    def submit(self, rows: Sequence[dict[str, Any]]) -> Future[None]:
        """Queue ``rows`` for the next commit. The future fails with StoreError if they cannot be written.

        The future is marked running at once so that a caller giving up (a client that disconnects) cannot
        cancel the write: what was screened is logged either way.
        """
        done: Future[None] = Future()
        done.set_running_or_notify_cancel()
        self._enqueue(_Submission(rows, done=done))
        return done

    def _enqueue(self, submission: _Submission) -> None:
        with self._lock:
            if self._closed:
                raise StoreError("the screening log is closed (the service is shutting down)")
            self._pending_rows += len(submission.rows)
            self._queue.put(submission)

    def close(self, timeout: float = 60.0) -> None:
        """Write everything submitted so far, then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("screening log writer did not finish within %.0f s; %d rows unwritten",
                          timeout, self._pending_rows)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            batch: list[_Submission] = []
            if first is None:
                stopping = True
            else:
                batch.append(first)
                rows = len(first.rows)
                while rows < self._max_batch_rows:
                    try:
                        following = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if following is None:
                        stopping = True
                        break
                    batch.append(following)
                    rows += len(following.rows)
            if batch:
                self._write(batch)

    def _write(self, batch: list[_Submission]) -> None:
        started = time.perf_counter()
        outcomes = self._commit(batch)
        with self._lock:
            self._pending_rows -= sum(len(submission.rows) for submission in batch)
        for submission, error in outcomes:
            if error is None:
                submission.done.set_result(None)
            else:
                submission.done.set_exception(error)
        if self._on_batch is not None:
            self._on_batch(sum(len(s.rows) for s, e in outcomes if e is None), time.perf_counter() - started)

    def _commit(self, batch: list[_Submission]) -> list[tuple[_Submission, BaseException | None]]:
        return commit_batch(self._repository, batch)


S = TypeVar("S", bound="_HasRows")


class _HasRows(Protocol):
    rows: Sequence[dict[str, Any]]


def commit_batch(repository: ScreeningRepository, batch: list[S]) -> list[tuple[S, BaseException | None]]:
    """Write the rows of every submission in one transaction; the outcome of each submission.

    If the transaction fails, each submission is retried alone, so one bad submission does not fail the
    others.
    """
    rows = [row for submission in batch for row in submission.rows]
    try:
        repository.add_many(rows)
    except StoreError as exc:
        if len(batch) == 1:
            return [(batch[0], exc)]
        return [outcome for submission in batch for outcome in commit_batch(repository, [submission])]
    except Exception as exc:  # a bug must fail the waiting callers, not kill the writer
        log.exception("unexpected error writing the screening log")
        return [(submission, StoreError(f"screening log write failed: {exc}")) for submission in batch]
    return [(submission, None) for submission in batch]


#: How long the on-loop writer polls a taken SQLite write lock before handing the batch to a thread (which
#: then waits with the busy timeout), and its first and longest pause between attempts.
_LOCK_POLL_SECONDS = 2.0
_LOCK_POLL_FIRST = 0.0005
_LOCK_POLL_MAX = 0.004


@dataclass
class _Waiting:
    rows: Sequence[dict[str, Any]]
    waiter: asyncio.Future[None]


class AsyncScreeningWriter:
    """Group commit on the event loop: ``await write(rows)`` returns once the rows are committed.

    Requests that finish while a commit is running form the next batch. With ``try_on_loop`` (SQLite) a
    batch is first written on the loop without waiting for the write lock, and from a worker thread if the
    lock is taken or anything fails; without it, always from a worker thread.
    """

    def __init__(self, repository: ScreeningRepository, *, try_on_loop: bool, max_batch_rows: int = 500,
                 on_batch: BatchObserver | None = None) -> None:
        self._repository = repository
        self._try_on_loop = try_on_loop
        self._max_batch_rows = max_batch_rows
        self._on_batch = on_batch
        self._waiting: list[_Waiting] = []
        self._pending_rows = 0
        self._closed = False
        self._flusher: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return not self._closed

    @property
    def pending_rows(self) -> int:
        return self._pending_rows

    async def write(self, rows: Sequence[dict[str, Any]]) -> None:
        """Queue ``rows`` and wait until they are committed (StoreError if they cannot be). Cancelling the
        caller does not cancel the write: what was screened is logged either way."""
        if self._closed:
            raise StoreError("the screening log is closed (the service is shutting down)")
        loop = asyncio.get_running_loop()
        waiting = _Waiting(rows, loop.create_future())
        self._waiting.append(waiting)
        self._pending_rows += len(rows)
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        await asyncio.shield(waiting.waiter)

    async def close(self) -> None:
        """Refuse new rows and wait until everything queued is written."""
        self._closed = True
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # requests finishing in this turn of the loop join the first batch
        while self._waiting:
            batch: list[_Waiting] = []
            rows = self._take(batch)
            started = time.perf_counter()
            outcomes = None
            if self._try_on_loop:
                outcomes, more = await self._commit_on_loop(batch)
                rows += more
            if outcomes is None:
                outcomes = await asyncio.to_thread(commit_batch, self._repository, batch)
            self._pending_rows -= rows
            for waiting, error in outcomes:
                if waiting.waiter.done():
                    continue
                if error is None:
                    waiting.waiter.set_result(None)
                else:
                    waiting.waiter.set_exception(error)
            if self._on_batch is not None:
                self._on_batch(sum(len(w.rows) for w, e in outcomes if e is None), time.perf_counter() - started)
            await asyncio.sleep(0)  # let the woken requests answer before the next commit

    def _take(self, batch: list[_Waiting]) -> int:
        """Move waiting submissions into ``batch`` up to the row limit; the number of rows moved."""
        rows = sum(len(w.rows) for w in batch)
        taken = 0
        while self._waiting and (not batch or rows < self._max_batch_rows):
            waiting = self._waiting.pop(0)
            batch.append(waiting)
            rows += len(waiting.rows)
            taken += len(waiting.rows)
        return taken

    async def _commit_on_loop(self, batch: list[_Waiting]) -> tuple[list[tuple[_Waiting, BaseException | None]] | None,
                                                                    int]:
        """Write the batch on the loop, retrying while another process holds SQLite's write lock; the outcomes
        (None means "do it from a thread") and the rows that joined the batch while it waited.

        Why poll here rather than let SQLite's busy handler wait in a thread: the handler sleeps in growing
        steps (up to 100 ms), and a thread must win the GIL back from the busy loop after each database call.
        Both showed as the p99 of bench/load.py with two workers sharing one SQLite file. While the lock is
        taken, submissions arriving meanwhile join the batch, so the wait also grows the group commit.
        """
        deadline = time.monotonic() + _LOCK_POLL_SECONDS
        delay = _LOCK_POLL_FIRST
        joined = 0
        while True:
            try:
                written = self._repository.add_many([row for w in batch for row in w.rows], wait_for_lock=False)
            except StoreError:
                return None, joined  # the thread path retries each submission on its own and reports failures
            if written:
                return [(waiting, None) for waiting in batch], joined
            if time.monotonic() >= deadline:
                return None, joined
            await asyncio.sleep(delay)
            delay = min(delay * 2, _LOCK_POLL_MAX)
            joined += self._take(batch)
