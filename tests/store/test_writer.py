"""The log writer commits what queued up together, fails only the submission at fault, and writes
everything submitted before ``close()``."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from datetime import UTC, datetime

import pytest

from service.errors import StoreError
from service.store import Database, ScreeningFilter, ScreeningRepository, ScreeningWriter
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
