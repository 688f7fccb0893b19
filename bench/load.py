"""Load test of POST /v1/screen: requests/s and p50/p99 latency at several concurrency levels, with the
screening log on SQLite and on PostgreSQL.

    .venv/bin/python bench/load.py [--clients 1,8,32] [--duration 15] [--stores sqlite,postgresql]
                                   [--workers 1] [--records 5000] [--rate 400]
                                   [--data-dir DIR --lists ofac-sdn us-csl ...]

For each store it starts ``screening serve`` on a free loopback port with a fresh store (a temporary SQLite
file, or a scratch schema on the PostgreSQL server named by SCREENING_TEST_POSTGRES_URL, dropped after), makes
a screener key, then runs each concurrency level for ``--duration`` seconds after a short warm-up. Clients
keep one HTTP/1.1 connection each and send a request as soon as the previous answer arrived (closed loop):
that measures the most the server can do, and at saturation the latency is simply clients / throughput.
With ``--rate R`` the highest level is run a second time open-loop: the clients together send R requests a second
on a fixed schedule, and latency counts from the scheduled time (so a slow answer that delays the next
request is charged to it: no coordinated omission). That answers "at R requests/s, what is the p99?".

The load generator is a few lines of asyncio over raw sockets rather than an HTTP library, because it shares
the machine's cores with the server: a heavy client would take CPU from the server and measure itself.
With ``--data-dir`` and ``--lists`` the server screens with those imported lists too (``screening lists import``
them into DIR first), as issue 7 asks: the latency bars with every official list loaded. ``--reload-with DIR2``
then runs the open-loop level once more while other versions of the lists (imported into DIR2) replace them:
the pack is reloaded (each worker rebuilds its screener) and the monitored set rescreened in the background,
and the latency of that window is reported.
Records are the deterministic synthetic shipments of bench/synthetic.py (unique made-up names, so the
engine's caches do not flatter the figures). Loopback only, bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synthetic import records as synthetic_records  # noqa: E402
from service.store import ApiKeyRepository, Role, ScreeningFilter, ScreeningRepository, open_database  # noqa: E402

SERVE = "from service.api.commands import register; import typer; app = typer.Typer(); register(app); app()"


@dataclass
class Outcome:
    store: str
    mode: str
    clients: int
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    answered: int = 0  # 200 responses, warm-up included (each must be in the screening log)
    cpu_ms: float = float("nan")  # server CPU (all processes) per answered request, warm-up included

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000 if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def store_url(kind: str) -> Iterator[str]:
    """A fresh, empty store of ``kind`` for one run."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="screening-load-") as folder:
            yield f"sqlite:///{Path(folder) / 'store.sqlite3'}"
        return
    from tests.store.databases import postgres_test_url, postgres_unreachable_reason, scratch_postgres_schema

    base = postgres_test_url()
    reason = postgres_unreachable_reason(base)
    if reason:
        raise SystemExit(reason)
    with scratch_postgres_schema(base) as url:
        yield url


def tree_cpu_seconds(root: psutil.Process) -> float:
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def wait_until_quiet(root: psutil.Process, deadline: float) -> None:
    """Wait until the server's process tree is idle: one worker answering /readyz does not mean the others
    have built their screeners (a worker only accepts connections once started), and load sent meanwhile
    would all land on the first one."""
    before = tree_cpu_seconds(root)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        after = tree_cpu_seconds(root)
        if after - before < 0.05:
            return
        before = after


class MemoryWatch:
    """Peak resident memory of each process of the server's tree, sampled every 0.2 s in a thread."""

    def __init__(self, root: psutil.Process) -> None:
        self.root = root
        self.peaks: dict[int, int] = {}
        self.peak_tree = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            tree = 0
            for process in [self.root, *self.root.children(recursive=True)]:
                try:
                    rss = process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
                tree += rss
                self.peaks[process.pid] = max(self.peaks.get(process.pid, 0), rss)
            self.peak_tree = max(self.peak_tree, tree)

    def stop(self) -> str:
        self._stop.set()
        self._thread.join()
        largest = max(self.peaks.values(), default=0)
        return (f"server peak RSS: largest process {largest / 2**20:,.0f} MiB, whole tree "
                f"{self.peak_tree / 2**20:,.0f} MiB ({len(self.peaks)} processes)")


@contextmanager
def server(url: str, workers: int, data_dir: Path,
           lists: list[str] | None = None) -> Iterator[tuple[int, str, str, psutil.Process]]:
    """``screening serve`` on a free port with a screener and an admin key; yields (port, key, admin, process).
    ``lists`` names imported lists in ``data_dir`` to screen with besides the pack. Prints the server's peak
    memory at the end."""
    database = open_database(url)
    key = ApiKeyRepository(database).create("load test", Role.screener, created_by="bench").secret
    admin = ApiKeyRepository(database).create("load test admin", Role.admin, created_by="bench").secret
    database.dispose()
    port = free_port()
    env = {**os.environ, "SCREENING_DATABASE_URL": url, "SCREENING_DATA_DIR": str(data_dir),
           "SCREENING_LOG_LEVEL": "WARNING"}
    if lists is not None:
        env["SCREENING_IMPORTED_LISTS"] = json.dumps(lists)
    process = subprocess.Popen([sys.executable, "-c", SERVE, "serve", "--port", str(port), "--workers",
                                str(workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    memory = MemoryWatch(psutil.Process(process.pid))
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit(f"server exited: {process.stderr.read().decode() if process.stderr else ''}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                    probe.sendall(b"GET /readyz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                    if probe.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not become ready")
            time.sleep(0.2)
        wait_until_quiet(psutil.Process(process.pid), deadline)
        yield port, key, admin, psutil.Process(process.pid)
    finally:
        print(f"# {memory.stop()}", flush=True)
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def logged_screenings(url: str) -> int:
    """Rows in the screening log: every request answered 200 must have one (the answer waits for the commit)."""
    database = open_database(url, migrate=False)
    try:
        return len(ScreeningRepository(database).list(ScreeningFilter(), limit=10_000_000))
    finally:
        database.dispose()


def encode_requests(key: str, count: int) -> list[bytes]:
    out = []
    for record in synthetic_records(count, seed=11):
        body = json.dumps(record).encode()
        head = (f"POST /v1/screen HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        out.append(head + body)
    return out


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def run_level(port: int, payloads: list[bytes], clients: int, warmup: float, duration: float,
                    store: str, rate: float | None = None,
                    during: Callable[[], Awaitable[str]] | None = None) -> Outcome:
    """Run ``clients`` connections for warm-up + ``duration`` seconds; closed loop, or open loop at ``rate``.
    With ``during``, the measured window is instead the time ``during()`` takes (at least a second), started
    when the warm-up ends; what it returns names the mode."""
    latencies: list[float] = []
    errors = 0
    answered = 0
    counted = 0
    measuring = False
    stop = False

    async def client(number: int) -> None:
        nonlocal errors, counted, answered
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        index = number * 7919  # each client walks the records from its own place
        interval = clients / rate if rate else 0.0
        scheduled = time.perf_counter() + number * interval / clients  # evenly spread, not in bursts
        try:
            while not stop:
                payload = payloads[index % len(payloads)]
                index += clients
                if rate:
                    delay = scheduled - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    started = scheduled
                    scheduled += interval
                else:
                    started = time.perf_counter()
                writer.write(payload)
                status = await read_response(reader)
                elapsed = time.perf_counter() - started
                answered += status == 200
                if measuring:
                    counted += 1
                    latencies.append(elapsed)
                    if status != 200:
                        errors += 1
        finally:
            writer.close()

    tasks = [asyncio.create_task(client(n)) for n in range(clients)]
    await asyncio.sleep(warmup)
    measuring = True
    started = time.perf_counter()
    mode = f"open {rate:.0f}/s" if rate else "closed"
    if during is None:
        await asyncio.sleep(duration)
    else:
        mode += f" {await during()}"
        await asyncio.sleep(max(0.0, started + 1.0 - time.perf_counter()))
    measuring = False
    seconds = time.perf_counter() - started
    stop = True
    await asyncio.gather(*tasks)
    return Outcome(store, mode, clients, counted, errors, seconds, latencies, answered)


def call(port: int, method: str, path: str, key: str) -> tuple[int, dict[str, object]]:
    """One blocking request with urllib (for the admin calls of ``--reload-with``, not the load)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def reload_and_rescreen(port: int, admin: str, replacement: Path, data_dir: Path) -> str:
    """Put the list files of ``replacement`` in the server's data folder, reload the pack (every worker
    rebuilds its screener: the reloading one at once, the others when they see it) and wait for the background
    rescreen that follows; a summary of both."""
    status, last = call(port, "GET", "/v1/rescreen/last", admin)
    previous = int(str(last.get("id", 0))) if status == 200 else 0
    for path in sorted(replacement.glob("lists/*.json.gz")):
        shutil.copy(path, data_dir / "lists" / path.name)
    began = time.perf_counter()
    status, _ = call(port, "POST", "/v1/pack/reload", admin)
    if status != 200:
        raise SystemExit(f"reload refused: {status}")
    reloaded = time.perf_counter() - began
    while True:
        status, last = call(port, "GET", "/v1/rescreen/last", admin)
        if status == 200 and int(str(last["id"])) > previous and last["status"] != "running":
            break
        time.sleep(0.2)
    return (f"during reload ({reloaded:.1f} s) + rescreen ({last['seconds']} s: {last['entries_changed']} entries "
            f"changed, {last['names_analysed']} names, {last['records_rescreened']} records)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,8,32", help="comma-separated concurrency levels")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds measured per level")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of unmeasured load per level")
    parser.add_argument("--stores", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--records", type=int, default=5000, help="distinct records cycled through")
    parser.add_argument("--rate", type=float, default=None, help="also run open-loop at this many requests/s")
    parser.add_argument("--data-dir", type=Path, default=None, help="where imported lists live")
    parser.add_argument("--lists", nargs="*", default=None, help="imported lists to screen with (in --data-dir)")
    parser.add_argument("--reload-with", type=Path, default=None,
                        help="a data folder holding other versions of the lists: the open-loop level is run once "
                             "more while they replace the served ones, the pack is reloaded and the monitored set "
                             "rescreened (the lists are copied; --data-dir is left as it was)")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    outcomes: list[Outcome] = []
    print(f"# POST /v1/screen, {args.workers} worker(s), {os.cpu_count()} CPUs, "
          f"{args.duration:.0f} s per level after {args.warmup:.0f} s warm-up, "
          f"load average before: {os.getloadavg()[0]:.2f} (anything above 0 is other work sharing the CPUs)",
          flush=True)
    if args.lists:
        print(f"# imported lists: {' '.join(args.lists)} from {args.data_dir}", flush=True)
    if args.reload_with and not (args.rate and args.data_dir and args.lists):
        parser.error("--reload-with needs --rate, --data-dir and --lists")
    for store in args.stores.split(","):
        with store_url(store) as url, tempfile.TemporaryDirectory() as scratch:
            data_dir = args.data_dir or Path(scratch)
            if args.reload_with:  # the lists are replaced during the run: serve a copy
                data_dir = Path(shutil.copytree(args.data_dir, Path(scratch) / "data"))
            with server(url, args.workers, data_dir, args.lists) as (port, key, admin, root):
                run_store(store, url, port, key, admin, root, data_dir, args, levels, outcomes)
    print(f"# load average after: {os.getloadavg()[0]:.2f}")
    print()
    print("| store | load | clients | requests | req/s | p50 ms | p99 ms | mean ms | server CPU ms/req | errors |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for o in outcomes:
        mean = statistics.fmean(o.latencies) * 1000 if o.latencies else float("nan")
        print(f"| {o.store} | {o.mode} | {o.clients} | {o.requests} | {o.rate:.0f} | {o.percentile(0.5):.1f} | "
              f"{o.percentile(0.99):.1f} | {mean:.1f} | {o.cpu_ms:.2f} | {o.errors} |")


def run_store(store: str, url: str, port: int, key: str, admin: str, root: psutil.Process, data_dir: Path,
              args: argparse.Namespace, levels: list[int], outcomes: list[Outcome]) -> None:
    """Every level against one server, then (``--reload-with``) the open-loop level during a reload."""
    payloads = encode_requests(key, args.records)
    for rate in [None, args.rate] if args.rate else [None]:
        # Open loop only at the highest concurrency: one connection cannot carry R/s alone.
        for clients in levels if rate is None else [max(levels)]:
            cpu = tree_cpu_seconds(root)
            outcome = asyncio.run(run_level(port, payloads, clients, args.warmup, args.duration, store,
                                            rate))
            outcome.cpu_ms = (tree_cpu_seconds(root) - cpu) * 1000 / max(outcome.answered, 1)
            outcomes.append(outcome)
            print(f"  {store:10} {outcome.mode:12} {clients:3} clients: {outcome.rate:7.1f} req/s  "
                  f"p50 {outcome.percentile(0.5):6.1f} ms  p99 {outcome.percentile(0.99):6.1f} ms  "
                  f"errors {outcome.errors}", flush=True)
    if args.reload_with:
        def during() -> Awaitable[str]:
            return asyncio.to_thread(reload_and_rescreen, port, admin, args.reload_with, data_dir)
        outcome = asyncio.run(run_level(port, payloads, max(levels), args.warmup, args.duration, store,
                                        args.rate, during))
        outcomes.append(outcome)
        print(f"  {store:10} {outcome.mode}: {outcome.rate:7.1f} req/s  p50 {outcome.percentile(0.5):6.1f} ms"
              f"  p99 {outcome.percentile(0.99):6.1f} ms  max {max(outcome.latencies) * 1000:6.1f} ms  "
              f"errors {outcome.errors}", flush=True)
    answered = sum(o.answered for o in outcomes if o.store == store)
    print(f"  {store:10} screening log: {logged_screenings(url):,} rows for {answered:,} answered requests",
          flush=True)


if __name__ == "__main__":
    main()
