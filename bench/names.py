"""Name screening at list scale: import OFAC SDN, screen the labelled name queries, score them.

    .venv/bin/python bench/names.py [--shared ../shared] [--out bench/out]

Imports ``../shared/data/lists/ofac_sdn`` into a scratch data folder, loads the bundled pack with it, screens
``../shared/eval/names-dev.records.jsonl`` (perturbed SDN names and realistic unlisted look-alikes) and scores the
results with ``../shared/eval/score_names.py``. Prints the time spent per query.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.engine import Screener  # noqa: E402
from service.lists import import_list, load_compiled_lists, save_compiled_list  # noqa: E402
from service.rulepack import load_pack  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()

    eval_dir = args.shared / "eval"
    sdn_dir = args.shared / "data" / "lists" / "ofac_sdn"
    if not (eval_dir / "names-dev.records.jsonl").is_file() or not sdn_dir.is_dir():
        print(f"no name evaluation set or SDN list under {args.shared}", file=sys.stderr)
        return 2
    data_dir = args.out / "data"
    started = time.perf_counter()
    save_compiled_list(import_list("ofac-sdn", sdn_dir), data_dir)
    imported = time.perf_counter() - started
    lists = [c.to_party_list() for c in load_compiled_lists(data_dir, ["ofac-sdn"])]
    started = time.perf_counter()
    screener = Screener(load_pack(ROOT / "rules", lists))
    built = time.perf_counter() - started
    print(f"imported SDN in {imported:.1f} s; built the screener ({screener.party_names.size:,} party names, "
          f"{screener.vessel_names.size:,} vessel names) in {built:.1f} s")

    results_path = args.out / "names-dev.results.jsonl"
    latencies: list[float] = []
    with results_path.open("w", encoding="utf-8") as out:
        for line in (eval_dir / "names-dev.records.jsonl").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            data = json.loads(line)
            t0 = time.perf_counter()
            result = screener.screen_data(data)
            latencies.append(time.perf_counter() - t0)
            out.write(result.model_dump_json() + "\n")
    latencies.sort()
    print(f"screened {len(latencies)} queries: mean {statistics.mean(latencies) * 1000:.2f} ms, "
          f"p50 {statistics.median(latencies) * 1000:.2f} ms, p99 {latencies[int(len(latencies) * .99)] * 1000:.2f} ms")
    scored = subprocess.run([sys.executable, str(eval_dir / "score_names.py"), str(eval_dir / "names-dev.jsonl"),
                             str(results_path), str(sdn_dir)], capture_output=True, text=True)
    print(scored.stdout, end="")
    print(scored.stderr, end="", file=sys.stderr)
    return scored.returncode


if __name__ == "__main__":
    raise SystemExit(main())
