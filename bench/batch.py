"""Batch throughput: records/s, wall time and peak memory of ``screening batch`` on generated records.

    .venv/bin/python bench/batch.py [--n 1000000] [--workers 1 2] [--format jsonl|csv] [--out-format csv]

Generates N shipments and counterparties (unique made-up names, ordinary and risky goods and routes, and
about 2% naming a party of the bundled pack, so there are hits), written as a stream so generation itself
stays small. Then runs ``python -m service.batch`` once per ``--workers`` value, as a separate process
tree, and samples the resident memory of the whole tree (coordinator plus worker processes) every 0.1 s.
The wall time includes starting the workers and building their screeners, as a nightly run would pay it.
The CPU seconds of the whole tree are reported too (they also grow when other work shares the cores).
Target on a 2-core machine with the bundled pack: >= 4,000 records/s with 2 workers; peak memory flat in N.
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


def write_input(path: Path, count: int) -> None:
    if path.suffix == ".jsonl":
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


def tree_rss(process: psutil.Process) -> tuple[int, int]:
    """Resident memory of a process and all its descendants, and of the process alone, in bytes."""
    total = own = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            rss = member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += rss
        if member.pid == process.pid:
            own = rss
    return total, own


def run(input_path: Path, out: Path, workers: int, chunk_size: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "service.batch", str(input_path), "--out", str(out), "--workers", str(workers),
               "--chunk-size", str(chunk_size), "--progress", "none", "--screened-at", "2026-01-01T00:00:00Z"]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(process.pid)
    peak = peak_coordinator = 0
    while process.poll() is None:
        try:
            total, own = tree_rss(watched)
        except psutil.NoSuchProcess:
            break
        peak, peak_coordinator = max(peak, total), max(peak_coordinator, own)
        time.sleep(0.1)
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the whole tree (workers are reaped by the coordinator, the coordinator by us)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    if process.returncode not in (0, 1, 3):
        raise SystemExit(f"batch run failed ({process.returncode}):\n{stderr}\n{stdout}")
    return {"workers": workers, "wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
            "exit_code": process.returncode, "peak_rss_mb": round(peak / 2**20, 1),
            "peak_coordinator_rss_mb": round(peak_coordinator / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="records to generate (default 1,000,000)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="input format")
    parser.add_argument("--out-format", choices=["jsonl", "csv", "parquet"], default="csv")
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="folder to keep the input and outputs in")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        input_path = folder / f"input.{args.format}"
        started = time.perf_counter()
        write_input(input_path, args.n)
        print(f"generated {args.n:,} records ({input_path.stat().st_size / 2**20:,.1f} MiB {args.format}) "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
        rows = []
        for workers in args.workers:
            out = folder / f"out-w{workers}.{args.out_format}"
            figures = run(input_path, out, workers, args.chunk_size)
            figures["records_per_second"] = round(args.n / figures["wall_seconds"])
            figures["cpu_ms_per_1000_records"] = round(1000 * figures["cpu_seconds"] / args.n * 1000)
            rows.append(figures)
            print(f"workers {workers}: {figures['records_per_second']:>7,} records/s  "
                  f"wall {figures['wall_seconds']:>8.1f} s  "
                  f"peak RSS (process tree) {figures['peak_rss_mb']:>7.1f} MiB "
                  f"(coordinator {figures['peak_coordinator_rss_mb']:.1f})  "
                  f"CPU {figures['cpu_seconds']:.1f} s ({figures['cpu_ms_per_1000_records']} ms per 1,000 records)",
                  flush=True)
        load = os.getloadavg()
        print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores "
              "(other work on the machine lowers records/s and inflates CPU time)")
        print(json.dumps({"n": args.n, "format": args.format, "out_format": args.out_format,
                          "chunk_size": args.chunk_size, "runs": rows}))


if __name__ == "__main__":
    main()
