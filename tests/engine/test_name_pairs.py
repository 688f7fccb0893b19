"""The name-pair regression table: each query must (or must not) be reported as a match of its listed name.

Each row of ``name_pairs.csv`` names a query (with an optional country), a listed name with its type and
country, the expected verdict and the kind of variant. All listed names go into one tiny pack; a query
"matches" when screening it as a counterparty yields party evidence pointing at its row's entry.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from service.engine import Screener
from service.rulepack import load_pack
from tests.factory import counterparty, slug, write_pack

TABLE = Path(__file__).with_name("name_pairs.csv")
ROWS = list(csv.DictReader(TABLE.open(encoding="utf-8")))


def entry_id(row: dict[str, str]) -> str:
    return slug(f"{row['listed_type']}-{row['listed']}-{row['listed_country']}")


@pytest.fixture(scope="module")
def pair_screener(tmp_path_factory: pytest.TempPathFactory) -> Screener:
    entries: dict[str, dict[str, object]] = {}
    for row in ROWS:
        key = entry_id(row)
        entries.setdefault(key, {"id": key, "type": row["listed_type"], "name": row["listed"],
                                 "countries": [row["listed_country"]] if row["listed_country"] else []})
    return Screener(load_pack(write_pack(tmp_path_factory.mktemp("pairs"), parties=list(entries.values()))))


def test_table_is_large_and_balanced() -> None:
    verdicts = Counter(row["expected"] for row in ROWS)
    assert set(verdicts) == {"match", "no_match"}
    assert len(ROWS) >= 150
    assert verdicts["no_match"] >= len(ROWS) / 3


@pytest.mark.parametrize("row", ROWS, ids=[f"{i + 2}-{r['kind']}-{r['expected']}" for i, r in enumerate(ROWS)])
def test_name_pair(pair_screener: Screener, row: dict[str, str]) -> None:
    result = pair_screener.screen(counterparty(row["query"], row["query_country"] or None))
    scores = [e.score for f in result.flags for e in f.evidence if e.entry == entry_id(row)]
    matched = bool(scores)
    assert matched == (row["expected"] == "match"), (
        f"{row['query']!r} vs {row['listed']!r} ({row['kind']}: {row['note']}): "
        f"expected {row['expected']}, best score {max(scores, default=0.0):.3f}, "
        f"reported {[(e.entry, e.score, e.method) for f in result.flags for e in f.evidence]}")
