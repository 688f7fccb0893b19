"""Rescreen after a list diff: a synthetic monitored set, a diff of 10 entries, and what the rescreen touched.

The monitored set is made of shipments with a seller and a consignee named like bench/synthetic.py's parties
(made-up words with a long-tailed frequency, generic words and legal forms). A few records are *planted*: a
listed entry added, changed or removed by the diff is their party's name (exact, with a typo, words reordered,
by identifier only, or as a vessel's IMO number). Everything else is noise the rescreen must leave alone.

    .venv/bin/python -m bench.rescreen [--parties 100000] [--database sqlite:///...] [--added N]

prints the names compared, candidate checks (name pairs scored in full), records rescreened, outcomes changed,
alerts, the time of the scan (finding the records) and of the whole rescreen, and the rescreen's peak memory
(tracemalloc, so Python allocations only; ``--no-trace`` for timings without its overhead) as JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.synthetic import _COUNTRIES, _FORMS, _GENERIC, word
from service.engine import Screener
from service.model import IdentifierKind, parse_record
from service.review.alerts import result_digest
from service.rulepack import Pack, load_pack
from service.rulepack.compiled import PartyList
from service.rulepack.spec import PartySpec
from service.store import Database
from service.store.monitored import MonitoredRepository, MonitoredScreening
from service.store.screenings import new_screening_id

LIST_NAME = "synthetic-watch"
RULES = Path(__file__).resolve().parent.parent / "rules"


class _Words:
    """bench/synthetic.py's long-tailed vocabulary, drawn with cumulative weights (one bisect per word)."""

    def __init__(self, size: int, seed: int) -> None:
        rng = random.Random(seed)
        self.words = [word(rng).capitalize() for _ in range(size)]
        self.cumulative = list(itertools.accumulate(1.0 / (rank + 10) for rank in range(size)))

    def pick(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cumulative, k=count)


def _company(rng: random.Random, words: _Words) -> str:
    parts = words.pick(rng, rng.randint(1, 3))
    if rng.random() < 0.5:
        parts.append(rng.choice(_GENERIC).title())
    return " ".join(parts) + " " + rng.choice(_FORMS)


def _entry(ident: str, name: str, **fields: Any) -> PartySpec:
    return PartySpec.model_validate({"id": ident, "type": "organization", "name": name, "sources": ["synthetic"],
                                     **fields})


@dataclass
class Scenario:
    """A monitored set, the list before and after the diff, and which records the diff must change."""

    records: list[dict[str, Any]]
    old_entries: list[PartySpec]
    new_entries: list[PartySpec]
    expect_alerted: set[str]
    expect_cleared: set[str]

    @property
    def parties(self) -> int:
        return sum(len(r["parties"]) + len(r.get("vessels", [])) for r in self.records)


def build_scenario(parties: int, seed: int = 19, added: int = 0,
                   added_entries: Sequence[PartySpec] = ()) -> Scenario:
    """``parties`` monitored parties (two per shipment) and a diff of 10 entries: 6 added, 2 changed, 2 removed;
    with ``added``, that many more entries are added, named like the monitored companies (the same vocabulary),
    as when a whole new official list arrives; ``added_entries`` (e.g. an imported official list) are added
    as they are."""
    rng = random.Random(seed)
    words = _Words(30_000, seed)
    records = [{"id": f"sh-{i}", "kind": "shipment",
                "parties": [{"role": role, "name": _company(rng, words), "country": rng.choice(_COUNTRIES)}
                            for role in ("seller", "consignee")]} for i in range(parties // 2)]

    def fresh(label: str) -> str:  # names of words the vocabulary never produces, so only the planted match
        return f"Qx{label}{word(rng)} Vyrtkal{word(rng)} Zoltrax {rng.choice(_GENERIC).title()}"

    planted = {name: fresh(name) for name in ("exact", "typo", "order", "ident", "alias", "old", "gone", "nobody")}
    targets = rng.sample(range(len(records)), 7)

    def plant(slot: int, name: str, **party: Any) -> str:
        record = records[targets[slot]]
        record["parties"][1] = {"role": "consignee", "name": name, "country": "RU", **party}
        return str(record["id"])

    exact = plant(0, planted["exact"] + " OOO")
    typo_name = planted["typo"].replace("Vyrtkal", "Vyrtkla")  # a transposition in the consignee's spelling
    typo = plant(1, typo_name)
    first, *rest = planted["order"].split()
    order = plant(2, " ".join([*rest, first]))
    ident = plant(3, "Ordinary Looking Name Ltd", identifiers={IdentifierKind.inn.value: "7716123459"})
    alias = plant(4, planted["alias"])
    gone = plant(5, planted["gone"])
    vessel_record = records[targets[6]]
    vessel_record["vessels"] = [{"name": "Sea Qualm", "imo": "9387421"}]

    old_entries = [_entry("syn-changed-1", planted["old"]), _entry("syn-changed-2", fresh("c2")),
                   _entry("syn-removed-1", planted["gone"]), _entry("syn-removed-2", fresh("r2"))]
    old_entries += [_entry(f"syn-stable-{i}", fresh(f"s{i}")) for i in range(20)]
    new_entries = [e for e in old_entries if not e.id.startswith(("syn-removed", "syn-changed"))]
    new_entries += [
        _entry("syn-changed-1", planted["old"], aliases=[planted["alias"]]),
        _entry("syn-changed-2", fresh("c2b"), countries=["IR"]),
        _entry("syn-added-1", planted["exact"], countries=["RU"]),
        _entry("syn-added-2", planted["typo"]),
        _entry("syn-added-3", planted["order"]),
        _entry("syn-added-4", fresh("i4"), identifiers={"inn": ["7716123459"]}),
        PartySpec.model_validate({"id": "syn-added-5", "type": "vessel", "name": "Quiet Harbour",
                                  "identifiers": {"imo": ["9387421"]}, "sources": ["synthetic"]}),
        _entry("syn-added-6", planted["nobody"]),
    ]
    extra = random.Random(seed + 1)
    new_entries += [_entry(f"syn-bulk-{i}", _company(extra, words)) for i in range(added)]
    new_entries += added_entries
    return Scenario(records, old_entries, new_entries,
                    expect_alerted={exact, typo, order, ident, alias, str(vessel_record["id"])},
                    expect_cleared={gone})


def scenario_packs(scenario: Scenario, rules: Path = RULES) -> tuple[Pack, Pack]:
    """The bundled pack with the list before the diff, and with the list after it."""
    return (load_pack(rules, [PartyList(LIST_NAME, scenario.old_entries)]),
            load_pack(rules, [PartyList(LIST_NAME, scenario.new_entries)]))


def monitor(database: Database, scenario: Scenario, old: Screener) -> None:
    """Put the scenario's records in the monitored set as last screened with ``old`` (each one is screened:
    some are flagged before the diff, e.g. goods shipped to Iran, and must stay as they were)."""
    now = datetime.now(UTC)
    items = []
    for data in scenario.records:
        result = old.screen(parse_record(data))
        items.append(MonitoredScreening(data["id"], data, "api", new_screening_id(now), result.decision.value,
                                        result_digest(result), now, old.pack.info.digest))
    repository = MonitoredRepository(database)
    for start in range(0, len(items), 5000):
        repository.add_many(items[start:start + 5000])


def main() -> None:
    from service.lists.diff import diff_lists
    from service.lists.storage import load_compiled_list
    from service.review import AlertFilter, list_alerts
    from service.review.rescreen import rescreen_all, rescreen_entries
    from service.store import open_database

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parties", type=int, default=100_000)
    parser.add_argument("--database", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--added", type=int, default=0,
                        help="also add this many entries named like the monitored companies (a whole new list); "
                             "some then match monitored records, so right_records/right_alerts no longer apply")
    parser.add_argument("--added-list", type=Path, default=None,
                        help="also add every entry of this compiled list (screening lists import writes them to "
                             "DATA_DIR/lists/NAME.json.gz)")
    parser.add_argument("--also-all", action="store_true",
                        help="then time a rescreen of every monitored record (what the scan is weighed against)")
    parser.add_argument("--no-trace", action="store_true",
                        help="time the rescreen without tracemalloc (which slows Python down several times)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{Path(folder) / 'store.sqlite3'}"
        database = open_database(url)
        added_entries = load_compiled_list(args.added_list).entries if args.added_list else []
        scenario = build_scenario(args.parties, added=args.added, added_entries=added_entries)
        old_pack, new_pack = scenario_packs(scenario)
        old, new = Screener(old_pack), Screener(new_pack)
        began = time.perf_counter()
        monitor(database, scenario, old)
        fill = time.perf_counter() - began
        diff = diff_lists(scenario.old_entries, scenario.new_entries)
        if not args.no_trace:
            tracemalloc.start()
        report = rescreen_entries(database, new, diff.entries_to_rescreen(), trigger="bench")
        peak = tracemalloc.get_traced_memory()[1] if not args.no_trace else 0
        tracemalloc.stop()
        changed = set(report.changed_records)
        alerted = {a.record_id for a in list_alerts(database, AlertFilter(), limit=1000).items}
        everything = None
        if args.also_all:  # what screening every monitored record again costs, for comparison
            began = time.perf_counter()
            rescreen_all(database, new, trigger="bench")
            everything = round(time.perf_counter() - began, 1)
        print(json.dumps({
            "monitored_parties": scenario.parties, "fill_seconds": round(fill, 1),
            **{k: v for k, v in report.as_dict().items() if k not in ("changes", "started_at", "finished_at",
                                                                      "notes", "lists")},
            "traced": not args.no_trace,
            "peak_memory_mb": round(peak / 1e6, 1) if not args.no_trace else None,
            "peak_bytes_per_party": round(peak / max(scenario.parties, 1)) if not args.no_trace else None,
            "rescreen_all_seconds": everything,
            "right_records": changed == scenario.expect_alerted | scenario.expect_cleared,
            "right_alerts": alerted == scenario.expect_alerted,
        }, indent=2))
        database.dispose()


if __name__ == "__main__":
    main()
