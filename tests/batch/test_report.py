"""The HTML report is self-contained, charts what summary.json says, and escapes what it shows."""

from __future__ import annotations

import json
import re
from pathlib import Path

from service.batch import BatchOptions, ExitCode, run_batch
from service.batch.report import bar_chart
from service.batch.worker import destination_of
from service.engine import Screener
from service.model import Record
from service.settings import Settings
from tests.batch.conftest import STAMP, write_jsonl


def _top(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:15]


def test_report_and_summary_describe_the_run(tmp_path: Path, sample_records: list[Record], screener: Screener,
                                             batch_settings: Settings) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", sample_records)
    reports = tmp_path / "reports"
    reports.mkdir()
    outcome = run_batch(BatchOptions(inputs=(source,), out=tmp_path / "out.jsonl", workers=1, chunk_size=64,
                                     screened_at=STAMP, progress="none", report=reports / "night.html",
                                     fail_on="block"), batch_settings)
    results = [screener.screen(r, STAMP) for r in sample_records]
    decisions = {d: sum(1 for r in results if r.decision.value == d) for d in ("block", "review", "clear")}
    assert outcome.exit_code is (ExitCode.fail_on if decisions["block"] else ExitCode.done)

    summary = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    assert summary == outcome.summary
    assert summary["counts"] == {"records": len(sample_records), "screened": len(sample_records), "bad_rows": 0,
                                 "hits": decisions["block"] + decisions["review"], "decisions": decisions}
    rule_counts: dict[str, int] = {}
    for result in results:
        for rule in {flag.rule for flag in result.flags}:
            rule_counts[rule] = rule_counts.get(rule, 0) + 1
    assert [(r["rule"], r["records"]) for r in summary["top_rules"]] == _top(rule_counts)
    entries: dict[str, int] = {}
    goods: dict[str, int] = {}
    for result in results:
        if result.decision.value == "clear":
            continue
        cited = [e for flag in result.flags for e in flag.evidence if e.entry]
        for entry in {e.entry for e in cited if e.list in screener.pack.party_lists}:
            entries[entry] = entries.get(entry, 0) + 1
        for entry in {e.entry for e in cited if e.list == "goods"}:
            goods[entry] = goods.get(entry, 0) + 1
    assert entries, "the sample names listed parties"
    assert [(e["entry"], e["records"]) for e in summary["top_entries"]] == _top(entries)
    assert [(g["entry"], g["records"]) for g in summary["top_goods"]] == _top(goods)
    assert all(e["name"] == getattr(screener.pack.entry(e["entry"]), "name", None) for e in summary["top_entries"])
    destinations: dict[str, int] = {}
    for record, result in zip(sample_records, results, strict=True):
        if result.decision.value != "clear":
            country = destination_of(record, screener.resolve_country) or "(unknown)"
            destinations[country] = destinations.get(country, 0) + 1
    assert [(d["country"], d["records"]) for d in summary["flagged_destinations"]] == _top(destinations)
    assert summary["run"]["screened_at"] == STAMP.isoformat()
    assert summary["run"]["exit_code"] == outcome.exit_code

    html = (reports / "night.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 5
    for section in ("Decisions", "Top rules", "Top matched list entries", "Top goods concerns",
                    "Flagged destinations"):
        assert f"<h2>{section}</h2>" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the report loads nothing from outside"
    assert "<script" not in html
    assert summary["top_rules"][0]["rule"] in html


def test_chart_labels_are_escaped() -> None:
    svg = str(bar_chart([("<script>alert(1)</script>", 3), ("A & B", 1)]))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "A &amp; B" in svg
    assert str(bar_chart([])) == '<p class="empty">None.</p>'
