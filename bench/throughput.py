"""Engine throughput on one process: records/s and per-record latency over generated records.

    .venv/bin/python bench/throughput.py [--records 10000] [--scale 100] [--lists ofac-sdn ...]

Runs the bundled pack as it is, then again with ``--scale`` times as many synthetic listed parties (to show
that candidate retrieval is sub-linear), and optionally with imported official lists. Every record has unique
made-up names (new combinations of words drawn from a 30,000-word made-up vocabulary with a long tail, as words
recur in real names) and a unique model code in each goods description, so the engine's per-name and
per-description caches do not flatter the figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synthetic import party_entries, records  # noqa: E402
from service.engine import Screener  # noqa: E402
from service.model import parse_record  # noqa: E402
from service.rulepack import PartyList, load_pack  # noqa: E402


def measure(label: str, screener: Screener, data: list[dict[str, object]]) -> None:
    parsed = [parse_record(item) for item in data[:200]]
    for record in parsed:  # warm up
        screener.screen(record)
    latencies: list[float] = []
    started = time.perf_counter()
    cpu_started = time.process_time()
    for item in data:
        t0 = time.perf_counter()
        screener.screen(parse_record(item))
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    names = screener.party_names.size + screener.vessel_names.size
    entries = len(screener.party_entries) + len(screener.vessel_entries)
    print(f"| {label} | {entries:,} | {names:,} | {len(data) / elapsed:,.0f} | {len(data) / cpu:,.0f} | "
          f"{p50:.3f} | {p99:.3f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--lists", nargs="*", default=[], help="imported lists to add (screening lists import)")
    parser.add_argument("--data-dir", type=Path, default=None, help="where imported lists live")
    args = parser.parse_args()

    data = records(args.records)
    pack = load_pack(ROOT / "rules")
    print(f"{args.records:,} generated records, one process, pack {pack.info.name} {pack.info.version}\n")
    # records per CPU-second shows what one core does even when other processes share the machine
    print("| party lists | entries | names indexed | records/s (wall) | records/CPU-s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    measure("bundled pack", Screener(pack), data)
    curated = len(pack.party_lists["curated"])
    synthetic = PartyList("synthetic", party_entries(curated * args.scale))
    measure(f"bundled + {args.scale}x synthetic", Screener(load_pack(ROOT / "rules", [synthetic])), data)
    if args.lists:
        from service.lists import load_compiled_lists
        from service.settings import Settings

        extra = [c.to_party_list() for c in load_compiled_lists(args.data_dir or Settings().data_dir, args.lists)]
        measure("bundled + " + " + ".join(args.lists), Screener(load_pack(ROOT / "rules", extra)), data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
