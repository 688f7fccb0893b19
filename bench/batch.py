"""Batch throughput: records/s, wall time and peak memory of ``screening batch`` on generated records.

    .venv/bin/python bench/batch.py [--n 1000000] [--workers 1 2] [--format jsonl|csv] [--out-format csv]
                                    [--keep DIR] [--store [URL]]

Generates N shipments and counterparties (unique made-up names, ordinary and risky goods and routes, and
about 2% naming a party of the bundled pack, so there are hits), written as a stream so generation itself
stays small. Then runs ``python -m service.batch`` once per ``--workers`` value, as a separate process
tree, and samples the resident memory of the whole tree (coordinator plus worker processes) every 0.1 s.
The wall time includes starting the workers and building their screeners, as a nightly run would pay it.
The CPU seconds of the whole tree, of the coordinator and of the busiest worker are reported too, with the
CPU other processes used meanwhile: on a shared machine, "on idle cores" estimates the rate from the CPU the
run needed (the busiest worker's CPU time, or the tree's spread over the cores, whichever is longer).
Target on a 2-core machine with the bundled pack: >= 4,000 records/s with 2 workers; peak memory flat in N
(the peak of the second half of a run is that of the first once the engine's caches are full).

``--keep DIR`` keeps the input and outputs in DIR, and a later run with the same ``--n`` and ``--format``
reuses the input. ``--store`` runs with ``--store`` into a fresh SQLite file (or the store at URL, which
should be empty), to measure what feeding the monitored set and the screening log costs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synthetic import records as synthetic_records  # noqa: E402
from service.batch.mapping import default_header, flatten_record  # noqa: E402
from service.model import Record  # noqa: E402
from service.rulepack import load_pack  # noqa: E402
from service.settings import BUNDLED_PACK  # noqa: E402

BLOCK = 5_000
HIT_RATE = 0.02


def generate(count: int, seed: int = 2024) -> Iterator[dict[str, Any]]:
    """``count`` records, block by block (memory stays small), about 2% naming a listed party."""
    pack = load_pack(BUNDLED_PACK)
    listed = [p for p in pack.party_lists["curated"] if p.type != "vessel"]
    rng = random.Random(seed)
    produced = 0
    block = 0
    while produced < count:
        for data in synthetic_records(min(BLOCK, count - produced), seed=seed + block):
            data["id"] = f"{data['id'].split('-')[0]}-{produced:08d}"
            if listed and rng.random() < HIT_RATE:
                entry = rng.choice(listed)
                data["parties"][-1]["name"] = entry.name
            produced += 1
            yield data
        block += 1


def write_input(path: Path, count: int, fmt: str) -> None:
    if fmt == "jsonl":
        with path.open("w", encoding="utf-8") as stream:
            for data in generate(count):
                stream.write(json.dumps(data, ensure_ascii=False) + "\n")
        return
    # CSV: a fixed header wide enough for every generated shape (default layout)
    sample = [flatten_record(Record.model_validate(d)) for d in generate(min(count, 20_000))]
    header = default_header(sample)
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        for data in generate(count):
            row = flatten_record(Record.model_validate(data))
            missing = set(row) - set(header)
            if missing:
                raise SystemExit(f"generated a column outside the header: {sorted(missing)}")
            writer.writerow([row.get(column, "") for column in header])


def sample_tree(process: psutil.Process, cpu: dict[int, float]) -> tuple[int, int]:
    """Resident memory of a process and all its descendants, and of the process alone, in bytes; records the
    CPU seconds each member has used so far in ``cpu`` (by pid)."""
    total = own = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            with member.oneshot():
                rss = member.memory_info().rss
                times = member.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        cpu[member.pid] = times.user + times.system
        total += rss
        if member.pid == process.pid:
            own = rss
    return total, own


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all processes, all cores)."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def run(input_path: Path, out: Path, workers: int, chunk_size: int, store: str | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "service.batch", str(input_path), "--out", str(out), "--workers", str(workers),
               "--chunk-size", str(chunk_size), "--progress", "none", "--screened-at", "2026-01-01T00:00:00Z"]
    environment = dict(os.environ)
    if store is not None:
        command.append("--store")
        environment["SCREENING_DATABASE_URL"] = store
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine_before = busy_seconds()
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=environment)
    watched = psutil.Process(process.pid)
    peak = peak_coordinator = 0
    members: dict[int, float] = {}
    samples: list[tuple[float, int]] = []
    while process.poll() is None:
        try:
            total, own = sample_tree(watched, members)
        except psutil.NoSuchProcess:
            break
        peak, peak_coordinator = max(peak, total), max(peak_coordinator, own)
        samples.append((time.perf_counter() - started, total))
        time.sleep(0.1)
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    # flat memory: the second half of the run peaks no higher than the first (caches full, nothing growing)
    first_half = max((rss for at, rss in samples if at <= wall / 2), default=0)
    second_half = max((rss for at, rss in samples if at > wall / 2), default=0)
    machine = busy_seconds() - machine_before
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the whole tree (workers are reaped by the coordinator, the coordinator by us)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    if process.returncode not in (0, 1, 3):
        raise SystemExit(f"batch run failed ({process.returncode}):\n{stderr}\n{stdout}")
    coordinator = members.pop(process.pid, 0.0)
    busiest = max(members.values(), default=0.0)
    return {"workers": workers, "wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
            "coordinator_cpu_seconds": round(coordinator, 2), "busiest_worker_cpu_seconds": round(busiest, 2),
            "other_load_cores": round(max(machine - cpu, 0.0) / wall, 2),
            "exit_code": process.returncode, "peak_rss_mb": round(peak / 2**20, 1),
            "peak_rss_first_half_mb": round(first_half / 2**20, 1),
            "peak_rss_second_half_mb": round(second_half / 2**20, 1),
            "peak_coordinator_rss_mb": round(peak_coordinator / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="records to generate (default 1,000,000)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="input format")
    parser.add_argument("--out-format", choices=["jsonl", "csv", "parquet"], default="csv")
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="folder to keep (and reuse) the input and outputs in")
    parser.add_argument("--store", nargs="?", const="", default=None, metavar="URL",
                        help="run with --store: into a fresh SQLite file, or the (empty) store at URL")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        input_path = folder / f"input-{args.n}.{args.format}"
        if input_path.exists() and args.keep:
            print(f"reusing {input_path} ({input_path.stat().st_size / 2**20:,.1f} MiB)", flush=True)
        else:
            started = time.perf_counter()
            partial = input_path.with_name(input_path.name + ".partial")
            write_input(partial, args.n, args.format)
            partial.replace(input_path)
            print(f"generated {args.n:,} records ({input_path.stat().st_size / 2**20:,.1f} MiB {args.format}) "
                  f"in {time.perf_counter() - started:.1f} s", flush=True)
        rows = []
        for workers in args.workers:
            out = folder / f"out-w{workers}.{args.out_format}"
            store = args.store
            if store == "":
                database = folder / f"store-w{workers}.sqlite3"
                database.unlink(missing_ok=True)
                store = f"sqlite:///{database}"
            figures = run(input_path, out, workers, args.chunk_size, store)
            figures["records_per_second"] = round(args.n / figures["wall_seconds"])
            figures["cpu_ms_per_1000_records"] = round(1000 * figures["cpu_seconds"] / args.n * 1000)
            # What the same CPU work would take on cores nobody else uses: the busiest worker's CPU time, or
            # the whole tree's spread over the cores, whichever is longer (startup included in both).
            cores = min(workers + 1, os.cpu_count() or 1)
            idle_wall = max(figures["busiest_worker_cpu_seconds"], figures["cpu_seconds"] / cores)
            figures["idle_estimate_records_per_second"] = round(args.n / idle_wall) if idle_wall else None
            rows.append(figures)
            print(f"workers {workers}: {figures['records_per_second']:>7,} records/s  "
                  f"wall {figures['wall_seconds']:>8.1f} s  "
                  f"peak RSS (process tree) {figures['peak_rss_mb']:>7.1f} MiB "
                  f"(coordinator {figures['peak_coordinator_rss_mb']:.1f}; first half of the run "
                  f"{figures['peak_rss_first_half_mb']:.1f}, second half {figures['peak_rss_second_half_mb']:.1f})  "
                  f"CPU {figures['cpu_seconds']:.1f} s ({figures['cpu_ms_per_1000_records']} ms per 1,000 records; "
                  f"coordinator {figures['coordinator_cpu_seconds']:.1f} s, busiest worker "
                  f"{figures['busiest_worker_cpu_seconds']:.1f} s)  other processes used "
                  f"{figures['other_load_cores']:.2f} cores meanwhile; on idle cores about "
                  f"{figures['idle_estimate_records_per_second'] or 0:,} records/s",
                  flush=True)
        load = os.getloadavg()
        print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores "
              "(other work on the machine lowers records/s and inflates CPU time)")
        print(json.dumps({"n": args.n, "format": args.format, "out_format": args.out_format,
                          "chunk_size": args.chunk_size, "store": args.store is not None, "runs": rows}))


if __name__ == "__main__":
    main()
