"""Several server processes on one port, each accepting from its own listening socket (Linux SO_REUSEPORT).

Why not uvicorn's own ``--workers``: it binds one socket in the parent and every worker accepts from it.
A worker's event loop accepts everything pending whenever it wakes, so long-lived keep-alive connections
(what order systems, payment gateways and reverse proxies hold open) pile up on whichever worker is awake.
Measured with 32 connections opened in a burst (a client pool filling up) to
2 idle workers, six tries: 32/0 three times, 30/2, 24/8 and 29/3; a worker holding every connection leaves
the other core idle however busy the server is. With SO_REUSEPORT each worker listens on its own socket
and the kernel spreads new connections over them by a hash of the connection's addresses (six tries:
16/16, 15/17, 14/18, 11/21, 13/19, 13/19), as nginx's ``reuseport`` does.

The supervisor here does what uvicorn's does that this service needs: it starts the workers, starts a
new one when one dies (and gives up, stopping the others, when a worker fails during startup: a broken
store or pack would fail the same way again), and on SIGINT or SIGTERM asks every worker to finish its
requests in flight and flush the screening log, waiting for them. Elsewhere than Linux, where
SO_REUSEPORT does not balance connections, ``screening serve`` keeps uvicorn's supervisor.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from multiprocessing.context import SpawnProcess
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = logging.getLogger(__name__)

#: The app factory every worker imports (it reads its settings from the environment).
APP_FACTORY = "service.api.app:app_from_environment"
#: How long a stopping worker may take to finish its requests and flush the log before it is killed.
STOP_TIMEOUT_SECONDS = 60.0
#: prctl option: the signal a process gets when its parent dies (linux/prctl.h).
_PR_SET_PDEATHSIG = 1
#: A worker that dies sooner than this after starting is restarted only after a pause, so a worker that
#: keeps crashing does not spin.
_QUICK_DEATH_SECONDS = 5.0


def reuse_port_balancing() -> bool:
    """Whether the kernel balances connections over SO_REUSEPORT sockets here (Linux 3.9+)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def reserve_port(host: str, port: int) -> socket.socket:
    """Check that nothing listens on ``host:port`` yet and hold the port for this server's workers.

    A plain bind first: SO_REUSEPORT alone would let a second server of the same user silently join the
    first one's port and share its traffic. Then a bound, not listening, SO_REUSEPORT socket that keeps the
    port ours while workers come and go; it receives no connections (only listening sockets do).
    """
    probe = socket.socket(_family(host), socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, port))
    finally:
        probe.close()
    return _reuse_port_socket(host, port)


def _stop_with_parent(supervisor: int) -> None:
    """Ask Linux to send this worker SIGTERM if the supervisor dies, even by SIGKILL: orphaned workers would
    keep the port and serve on, out of anyone's control (uvicorn then stops gracefully, flushing the log)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux's C library: nothing to ask
        return
    if os.getppid() != supervisor:  # the supervisor died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _run_worker(host: str, port: int, options: dict[str, Any], supervisor: int) -> None:
    """A worker process: its own listening socket, then uvicorn serving the app on it until told to stop."""
    _stop_with_parent(supervisor)
    sock = _reuse_port_socket(host, port)
    sock.listen(int(options.get("backlog", 2048)))
    config = uvicorn.Config(APP_FACTORY, factory=True, host=host, port=port, **options)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


class ReusePortSupervisor:
    """Runs ``workers`` server processes on ``host:port`` until SIGINT or SIGTERM (see the module note)."""

    def __init__(self, host: str, port: int, workers: int, options: dict[str, Any]) -> None:
        self.host = host
        self.port = port
        self.workers = workers
        self.options = options
        self._context = multiprocessing.get_context("spawn")
        self._stop = threading.Event()

    def _start(self) -> tuple[SpawnProcess, float]:
        process = self._context.Process(target=_run_worker, args=(self.host, self.port, self.options, os.getpid()),
                                        name="screening-worker")
        process.start()
        log.info("started worker process %s", process.pid)
        return process, time.monotonic()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._stop.set()

    def run(self) -> int:
        """Serve until stopped; 0 after a clean stop, ``STARTUP_FAILURE`` when a worker could not start.

        Raises OSError (before any worker starts) if the port is taken or cannot be bound.
        """
        holder = reserve_port(self.host, self.port)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        workers = [self._start() for _ in range(self.workers)]
        log.info("serving on %s:%d with %d worker processes, each on its own socket (SO_REUSEPORT)",
                 self.host, self.port, self.workers)
        failed = False
        try:
            while not self._stop.wait(0.5):
                for index, (process, started) in enumerate(workers):
                    if process.is_alive():
                        continue
                    process.join()
                    if process.exitcode == STARTUP_FAILURE:
                        log.error("worker process %s failed to start (exit code %s); stopping the server",
                                  process.pid, process.exitcode)
                        failed = True
                        self._stop.set()
                        break
                    log.error("worker process %s died (exit code %s); starting another", process.pid,
                              process.exitcode)
                    if time.monotonic() - started < _QUICK_DEATH_SECONDS and self._stop.wait(_QUICK_DEATH_SECONDS):
                        break  # told to stop during the pause: start nothing more
                    workers[index] = self._start()
        finally:
            self._stop_all([process for process, _ in workers])
            holder.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return STARTUP_FAILURE if failed else 0

    def _stop_all(self, processes: list[SpawnProcess]) -> None:
        """SIGTERM every worker (uvicorn then finishes requests in flight and the app flushes its log)."""
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker process %s did not stop within %.0f s; killing it", process.pid,
                          STOP_TIMEOUT_SECONDS)
                process.kill()
                process.join()
