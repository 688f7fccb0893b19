"""Where chunks are screened: a local process pool or a Dask cluster. Both run :func:`screen_chunk` and
hand outcomes back in submission order, with a bounded number of chunks in flight so memory stays flat."""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from service.batch.worker import ChunkOutcome, ChunkTask, RunContext, init_worker, screen_chunk, screen_installed_chunk
from service.errors import BatchError

log = logging.getLogger(__name__)


class ChunkRunner(Protocol):
    """Screens chunks somewhere and yields their outcomes in the order the chunks were given."""

    description: str

    def map(self, tasks: Iterable[ChunkTask]) -> Iterator[ChunkOutcome]: ...

    def close(self) -> None: ...


class LocalRunner:
    """A pool of worker processes on this machine, each receiving the run context and building the screener
    once, in its initializer."""

    def __init__(self, workers: int, context: RunContext) -> None:
        # spawn, not fork: the coordinator may run threads (progress display, logging handlers), and a forked
        # copy of a threaded process can deadlock.
        spawn = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=spawn, initializer=init_worker,
                                         initargs=(context,))
        self._in_flight = 2 * workers + 1
        self.description = f"local, {workers} worker process{'es' if workers > 1 else ''}"

    def map(self, tasks: Iterable[ChunkTask]) -> Iterator[ChunkOutcome]:
        window: deque[Future[ChunkOutcome]] = deque()
        try:
            for task in tasks:
                window.append(self._pool.submit(screen_installed_chunk, task))
                if len(window) >= self._in_flight:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        except BrokenProcessPool as exc:
            raise BatchError(f"a worker process died ({exc}); the pack may fail to load or memory ran out") from None
        finally:
            for future in window:
                future.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskRunner:
    """Chunks screened on a Dask distributed cluster: the one at ``scheduler``, or a local cluster of
    ``workers`` single-threaded processes. Workers must be able to import this package (the same version);
    they need no access to the files: the coordinator reads the input and sends it with each chunk, and sends
    the run context (with the loaded pack and lists) to every worker once."""

    def __init__(self, workers: int, context: RunContext, scheduler: str | None, run_id: str) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise BatchError("--engine dask needs dask[distributed]: pip install 'drone-screening[dask]'") from None
        self._cluster: Any = None
        try:
            if scheduler:
                self._client = Client(scheduler, timeout="30s")  # type: ignore[no-untyped-call]
                self.description = f"dask, scheduler {scheduler}"
            else:
                self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
                self._client = Client(self._cluster)  # type: ignore[no-untyped-call]
                self.description = f"dask, local cluster of {workers} worker process{'es' if workers > 1 else ''}"
        except (OSError, TimeoutError) as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise BatchError(f"cannot reach the Dask scheduler {scheduler or '(local)'}: {exc}") from None
        threads = sum(self._client.nthreads().values()) or workers  # type: ignore[no-untyped-call]
        self._in_flight = 2 * threads + 1
        self._run_id = run_id
        self._context = self._client.scatter(context, broadcast=True, hash=False)  # type: ignore[no-untyped-call]

    def map(self, tasks: Iterable[ChunkTask]) -> Iterator[ChunkOutcome]:
        window: deque[Any] = deque()
        try:
            for task in tasks:
                window.append(self._client.submit(screen_chunk, task, self._context,
                                                  key=f"screen-chunk-{self._run_id}-{task.seq}", pure=False,
                                                  retries=1))
                if len(window) >= self._in_flight:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]
        if self._cluster is not None:
            self._cluster.close()
