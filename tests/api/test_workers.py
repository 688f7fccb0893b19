"""``screening serve --workers N`` on Linux: one listening socket per worker (SO_REUSEPORT), a dead worker
replaced, a taken port refused. Real server processes on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from service.api.workers import reuse_port_balancing
from tests.api.conftest import ROOT
from tests.api.test_commands import SERVE, _free_port, _wait_ready

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not reuse_port_balancing(), reason="SO_REUSEPORT balancing is Linux only")]


def _listening_workers(server: psutil.Process, port: int) -> set[int]:
    """Pids of the server's processes with a listening socket on ``port`` (the workers)."""
    pids = set()
    for child in server.children(recursive=True):
        try:
            connections = child.net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections):
            pids.add(child.pid)
    return pids


def _running(process: psutil.Process) -> bool:
    """Whether the process still runs (an exited one waiting for its new parent to reap it does not)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_for_workers(server: psutil.Process, port: int, count: int, timeout: float = 60) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = _listening_workers(server, port)
        if len(workers) == count:
            return workers
        time.sleep(0.2)
    raise AssertionError(f"expected {count} listening workers, found {_listening_workers(server, port)}")


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = _free_port()
    environment = {**os.environ, "SCREENING_DATA_DIR": str(tmp_path / "data"), "SCREENING_DATABASE_URL": "",
                   "SCREENING_PACK_PATH": str(ROOT / "rules"), "SCREENING_AUTH": "disabled"}
    process = subprocess.Popen([sys.executable, "-c", SERVE, "serve", "--port", str(port), "--workers", "2"],
                               env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process)
        _wait_for_workers(psutil.Process(process.pid), port, 2)
        yield process, port
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=90)
        assert process.returncode == 0, err


def test_each_worker_listens_on_its_own_socket_and_gets_a_share_of_connections(
        two_workers: tuple[subprocess.Popen[str], int]) -> None:
    """Connections opened in a burst (a client's pool filling up as 32 requests arrive) land on both workers.

    With one shared socket (uvicorn's supervisor) this split was 32/0 in half of the tries; hashing over two
    sockets puts 3 or fewer on one worker with a probability of about 3 in a million.
    """
    process, port = two_workers
    workers = _listening_workers(psutil.Process(process.pid), port)
    held = []
    try:
        for _ in range(32):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        for connection in held:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            assert connection.recv(64).startswith(b"HTTP/1.1 200")  # accepted and answered by a worker
        share: Counter[int] = Counter()
        for pid in workers:
            share[pid] = sum(1 for c in psutil.Process(pid).net_connections(kind="tcp")
                             if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)
        assert sum(share.values()) == 32
        assert min(share.values()) >= 4, share
    finally:
        for connection in held:
            connection.close()


def test_a_worker_that_dies_is_replaced(two_workers: tuple[subprocess.Popen[str], int]) -> None:
    process, port = two_workers
    server = psutil.Process(process.pid)
    first = _listening_workers(server, port)
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = _listening_workers(server, port)
        if len(now) == 2 and victim not in now:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"the killed worker {victim} was not replaced: {_listening_workers(server, port)}")
    assert (now & first) == first - {victim}
    for _ in range(10):
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200


def test_a_taken_port_is_refused_before_any_worker_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environment = {**os.environ, "SCREENING_DATA_DIR": str(tmp_path / "data"), "SCREENING_DATABASE_URL": "",
                       "SCREENING_PACK_PATH": str(ROOT / "rules"), "SCREENING_AUTH": "disabled"}
        result = subprocess.run([sys.executable, "-c", SERVE, "serve", "--port", str(port), "--workers", "2"],
                                env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "in use" in result.stderr


def test_workers_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    """SIGKILL leaves the supervisor no chance to stop its workers; the kernel tells them (PR_SET_PDEATHSIG)
    and they stop instead of serving on, orphaned."""
    port = _free_port()
    environment = {**os.environ, "SCREENING_DATA_DIR": str(tmp_path / "data"), "SCREENING_DATABASE_URL": "",
                   "SCREENING_PACK_PATH": str(ROOT / "rules"), "SCREENING_AUTH": "disabled"}
    process = subprocess.Popen([sys.executable, "-c", SERVE, "serve", "--port", str(port), "--workers", "2"],
                               env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process)
        workers = [psutil.Process(pid) for pid in _wait_for_workers(psutil.Process(process.pid), port, 2)]
        process.kill()
        process.wait(timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(_running(worker) for worker in workers):
            time.sleep(0.2)
        assert not [w.pid for w in workers if _running(w)], "workers still running after the supervisor was killed"
        with socket.socket() as probe:  # the port is free again
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
