"""Screen the labelled development set with the bundled pack and score it with the set's own scorer.

    .venv/bin/python bench/eval.py [--shared ../shared] [--pack rules] [--lists NAME ...] [--out bench/out]

Never tune the pack to individual records of this set: a held-out set of the same kind judges the work.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.engine import Screener  # noqa: E402
from service.rulepack import load_pack  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--pack", type=Path, default=ROOT / "rules")
    parser.add_argument("--lists", nargs="*", default=[], help="imported lists to load with the pack")
    parser.add_argument("--data-dir", type=Path, default=None, help="where imported lists live")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()

    eval_dir = args.shared / "eval"
    if not (eval_dir / "dev.records.jsonl").is_file():
        print(f"no evaluation set at {eval_dir}", file=sys.stderr)
        return 2
    extra = []
    if args.lists:
        from service.lists import load_compiled_lists
        from service.settings import Settings

        data_dir = args.data_dir or Settings().data_dir
        extra = [c.to_party_list() for c in load_compiled_lists(data_dir, args.lists)]
    pack = load_pack(args.pack, extra)
    screener = Screener(pack)
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "dev.results.jsonl"
    started = time.perf_counter()
    count = 0
    with results_path.open("w", encoding="utf-8") as out:
        for line in (eval_dir / "dev.records.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.write(screener.screen_data(json.loads(line)).model_dump_json() + "\n")
                count += 1
    elapsed = time.perf_counter() - started
    print(f"screened {count} records in {elapsed:.2f} s with {pack.info.name} {pack.info.version} "
          f"({pack.counts['parties']} parties, {pack.counts['vessels']} vessels, {pack.counts['goods']} goods "
          f"entries, {pack.counts['rules']} rules)")
    scored = subprocess.run([sys.executable, str(eval_dir / "score.py"), str(eval_dir / "dev.jsonl"),
                             str(results_path)], capture_output=True, text=True)
    print(scored.stdout, end="")
    print(scored.stderr, end="", file=sys.stderr)
    return scored.returncode


if __name__ == "__main__":
    raise SystemExit(main())
