"""The name-pair regression table: each query must (or must not) be reported as a match of its listed name.

Each row of ``name_pairs.csv`` names a query (with an optional country), a listed name with its type and
country, the expected verdict and the kind of variant. The listed names are the bundled pack's entries (with
all their aliases) where the pack holds that name, and otherwise an entry of their own; everything goes into
one small pack. A query "matches" when screening it (as a counterparty, or as a vessel for vessel rows) yields
evidence pointing at its row's entry.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from service.engine import Screener
from service.engine.normalise import fold
from service.rulepack import CURATED_LIST, load_pack
from service.rulepack.spec import AliasSpec
from tests.conftest import BUNDLED_PACK
from tests.factory import MATCH_RULE, counterparty, record, slug, write_pack

TABLE = Path(__file__).with_name("name_pairs.csv")
with TABLE.open(encoding="utf-8") as handle:
    ROWS = list(csv.DictReader(handle))

VESSEL_RULE = {**MATCH_RULE, "id": "any-vessel-match", "reason": "{value} matches {entry_name} ({score})",
               "when": {"kind": "vessel_match", "min_score": "weak"}}
CASES = {
    "any-party-match": {"cases": [
        {"name": "fires", "fires": True, "record": {"id": "c1", "parties": [{"name": "SAHARA THUNDER"}]}},
        {"name": "quiet", "fires": False, "record": {"id": "c2", "parties": [{"name": "Unrelated Bakery"}]}}]},
    "any-vessel-match": {"cases": [
        {"name": "fires", "fires": True, "record": {"id": "c1", "vessels": [{"name": "MUSA JALIL"}]}},
        {"name": "quiet", "fires": False, "record": {"id": "c2", "vessels": [{"name": "NORDIC STAR"}]}}]},
}


def _curated_names() -> tuple[list[dict[str, Any]], dict[tuple[str, str], str]]:
    pack = load_pack(BUNDLED_PACK)
    entries = [party.model_dump(mode="json", exclude_defaults=True) for party in pack.party_lists[CURATED_LIST]]
    owner: dict[tuple[str, str], str] = {}
    for party in pack.party_lists[CURATED_LIST]:
        for name in [party.name, *(a.name if isinstance(a, AliasSpec) else a for a in party.aliases)]:
            owner.setdefault((party.type.value, fold(name)), party.id)
    return entries, owner


ENTRIES, OWNER = _curated_names()


def entry_id(row: dict[str, str]) -> str:
    return OWNER.get((row["listed_type"], fold(row["listed"]))) or slug(
        f"t-{row['listed_type']}-{row['listed']}-{row['listed_country']}")


@pytest.fixture(scope="module")
def pair_screener(tmp_path_factory: pytest.TempPathFactory) -> Screener:
    entries = {e["id"]: {**e, "sources": ["test-source"], "related": []} for e in ENTRIES}
    for row in ROWS:
        key = entry_id(row)
        entries.setdefault(key, {"id": key, "type": row["listed_type"], "name": row["listed"],
                                 "countries": [row["listed_country"]] if row["listed_country"] else []})
    pack_dir = write_pack(tmp_path_factory.mktemp("pairs"), parties=list(entries.values()),
                          rules=[MATCH_RULE, VESSEL_RULE], cases=CASES)
    return Screener(load_pack(pack_dir))


def test_table_is_large_and_balanced() -> None:
    verdicts = Counter(row["expected"] for row in ROWS)
    assert set(verdicts) == {"match", "no_match"}
    assert len(ROWS) >= 150
    assert verdicts["no_match"] >= len(ROWS) / 3


@pytest.mark.parametrize("row", ROWS, ids=[f"{i + 2}-{r['kind']}-{r['expected']}" for i, r in enumerate(ROWS)])
def test_name_pair(pair_screener: Screener, row: dict[str, str]) -> None:
    if row["listed_type"] == "vessel":
        result = pair_screener.screen(record(vessels=[{"name": row["query"], "flag": row["query_country"] or None}]))
    else:
        result = pair_screener.screen(counterparty(row["query"], row["query_country"] or None))
    scores = [e.score for f in result.flags for e in f.evidence if e.entry == entry_id(row)]
    assert bool(scores) == (row["expected"] == "match"), (
        f"{row['query']!r} vs {row['listed']!r} ({row['kind']}: {row['note']}): "
        f"expected {row['expected']}, best score {max(scores, default=0.0):.3f}, "
        f"reported {[(e.entry, e.score, e.method) for f in result.flags for e in f.evidence]}")
