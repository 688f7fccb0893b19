"""The log writers (a thread for synchronous callers, an event-loop one for the API) commit what queued up
together, fail only the submission at fault, and write everything submitted before ``close()``."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.errors import StoreError
from service.store import (
    AsyncScreeningWriter,
    Database,
    ScreeningFilter,
    ScreeningRepository,
    ScreeningWriter,
    upgrade_database,
)
from tests.store.test_screenings import screening


def test_submitted_rows_are_committed_before_the_future_resolves(database: Database) -> None:
    repository = ScreeningRepository(database)
    writer = ScreeningWriter(repository)
    writer.start()
    try:
        row = screening(datetime.now(UTC))
        writer.submit([row]).result(timeout=10)
        assert repository.get(row["id"]).record_id == row["record_id"]
        assert writer.pending_rows == 0
    finally:
        writer.close()


def test_concurrent_submissions_are_all_written_in_shared_commits(database: Database) -> None:
    repository = ScreeningRepository(database)
    batches: list[int] = []
    writer = ScreeningWriter(repository, on_batch=lambda rows, _seconds: batches.append(rows))
    writer.start()
    threads_count, per_thread = 8, 40
    futures: list[Future[None]] = []
    lock = threading.Lock()

    def submit_many() -> None:
        for _ in range(per_thread):
            future = writer.submit([screening(datetime.now(UTC))])
            with lock:
                futures.append(future)

    threads = [threading.Thread(target=submit_many) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for future in futures:
        future.result(timeout=30)
    writer.close()
    assert len(repository.list(ScreeningFilter(), limit=1000)) == threads_count * per_thread
    assert sum(batches) == threads_count * per_thread
    assert len(batches) < threads_count * per_thread  # some commits carried several screenings


def test_close_writes_everything_already_submitted(database: Database) -> None:
    repository = ScreeningRepository(database)
    writer = ScreeningWriter(repository)
    writer.start()
    futures = [writer.submit([screening(datetime.now(UTC)) for _ in range(5)]) for _ in range(50)]
    writer.close()
    assert all(f.done() and f.exception() is None for f in futures)
    assert len(repository.list(ScreeningFilter(), limit=1000)) == 250
    with pytest.raises(StoreError, match="closed"):
        writer.submit([screening(datetime.now(UTC))])
    assert not writer.alive


def test_a_bad_submission_fails_alone(database: Database) -> None:
    repository = ScreeningRepository(database)
    existing = screening(datetime.now(UTC))
    repository.add_many([existing])
    # Hold the writer back so the good and the bad submission land in the same batch.
    writer = ScreeningWriter(repository)
    good_before = writer.submit([screening(datetime.now(UTC))])
    duplicate = writer.submit([existing])  # same primary key: the insert fails
    good_after = writer.submit([screening(datetime.now(UTC))])
    writer.start()
    writer.close()
    assert good_before.exception() is None
    assert good_after.exception() is None
    assert isinstance(duplicate.exception(), StoreError)
    assert len(repository.list(ScreeningFilter())) == 3


def test_a_waiting_caller_cannot_cancel_the_write(database: Database) -> None:
    repository = ScreeningRepository(database)
    writer = ScreeningWriter(repository)
    row = screening(datetime.now(UTC))
    future = writer.submit([row])
    assert future.cancel() is False
    writer.start()
    writer.close()
    assert repository.get(row["id"]).id == row["id"]


# --- the event-loop writer used by the API -----------------------------------------------------------------


@pytest.mark.parametrize("try_on_loop", [True, False], ids=["on-loop", "in-thread"])
def test_async_writer_commits_concurrent_requests_together(database: Database, try_on_loop: bool) -> None:
    repository = ScreeningRepository(database)
    batches: list[int] = []
    writer = AsyncScreeningWriter(repository, try_on_loop=try_on_loop,
                                  on_batch=lambda rows, _seconds: batches.append(rows))

    async def run() -> None:
        await asyncio.gather(*(writer.write([screening(datetime.now(UTC))]) for _ in range(200)))
        await writer.close()

    asyncio.run(run())
    assert len(repository.list(ScreeningFilter(), limit=1000)) == 200
    assert sum(batches) == 200
    assert len(batches) < 200
    assert writer.pending_rows == 0
    assert not writer.alive


@pytest.mark.parametrize("try_on_loop", [True, False], ids=["on-loop", "in-thread"])
def test_async_writer_fails_only_the_bad_submission(database: Database, try_on_loop: bool) -> None:
    repository = ScreeningRepository(database)
    existing = screening(datetime.now(UTC))
    repository.add_many([existing])
    writer = AsyncScreeningWriter(repository, try_on_loop=try_on_loop)

    async def run() -> list[BaseException | None]:
        outcomes = await asyncio.gather(writer.write([screening(datetime.now(UTC))]), writer.write([existing]),
                                        writer.write([screening(datetime.now(UTC))]), return_exceptions=True)
        return [o if isinstance(o, BaseException) else None for o in outcomes]

    good, bad, also_good = asyncio.run(run())
    assert good is None
    assert also_good is None
    assert isinstance(bad, StoreError)
    assert len(repository.list(ScreeningFilter())) == 3


def test_async_writer_keeps_writing_when_the_caller_gives_up(database: Database) -> None:
    repository = ScreeningRepository(database)
    writer = AsyncScreeningWriter(repository, try_on_loop=False)
    rows = [screening(datetime.now(UTC)) for _ in range(20)]

    async def run() -> None:
        task = asyncio.create_task(writer.write(rows))
        await asyncio.sleep(0)
        task.cancel()  # a client that disconnects
        with pytest.raises(asyncio.CancelledError):
            await task
        await writer.close()  # closing waits for the write already queued

    asyncio.run(run())
    assert len(repository.list(ScreeningFilter(), limit=100)) == 20


def test_async_writer_refuses_rows_after_close(database: Database) -> None:
    writer = AsyncScreeningWriter(ScreeningRepository(database), try_on_loop=True)

    async def run() -> None:
        await writer.close()
        with pytest.raises(StoreError, match="closed"):
            await writer.write([screening(datetime.now(UTC))])

    asyncio.run(run())


def test_sqlite_write_does_not_wait_on_the_loop_for_a_held_lock(tmp_path: Path) -> None:
    """Another connection holds SQLite's write lock: the on-loop attempt gives up at once, the rows are
    written once the lock is released, and the loop stays free meanwhile."""
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    upgrade_database(url)
    database = Database(url)
    repository = ScreeningRepository(database)
    row = screening(datetime.now(UTC))
    blocker = sqlite3.connect(tmp_path / "store.sqlite3", isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    assert repository.add_many([row], wait_for_lock=False) is False
    writer = AsyncScreeningWriter(repository, try_on_loop=True)

    async def run() -> int:
        ticks = 0
        write = asyncio.create_task(writer.write([row]))
        while ticks < 20:  # the loop keeps turning while the write waits for the lock
            await asyncio.sleep(0.01)
            ticks += 1
        assert not write.done()
        await asyncio.to_thread(blocker.execute, "ROLLBACK")
        await write
        return ticks

    try:
        assert asyncio.run(run()) == 20
        assert repository.get(row["id"]).id == row["id"]
    finally:
        blocker.close()
        database.dispose()


def test_rows_arriving_while_the_sqlite_lock_is_held_join_the_waiting_commit(tmp_path: Path) -> None:
    """While the writer polls a held lock, later submissions join its batch: one commit writes them all."""
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    upgrade_database(url)
    database = Database(url)
    repository = ScreeningRepository(database)
    batches: list[int] = []
    writer = AsyncScreeningWriter(repository, try_on_loop=True, on_batch=lambda rows, _: batches.append(rows))
    rows = [screening(datetime.now(UTC)) for _ in range(3)]
    blocker = sqlite3.connect(tmp_path / "store.sqlite3", isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")

    async def run() -> None:
        first = asyncio.create_task(writer.write([rows[0]]))
        await asyncio.sleep(0.02)  # the first batch is now polling the lock
        later = [asyncio.create_task(writer.write([row])) for row in rows[1:]]
        await asyncio.sleep(0.02)
        await asyncio.to_thread(blocker.execute, "ROLLBACK")
        await asyncio.gather(first, *later)

    try:
        asyncio.run(run())
        assert batches == [3]
        assert {r.id for r in repository.list(ScreeningFilter())} == {row["id"] for row in rows}
    finally:
        blocker.close()
        database.dispose()
