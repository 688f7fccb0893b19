"""The morning report: ``summary.json`` (machine-readable) and a self-contained HTML page with inline SVG
charts of decisions, top rules, top matched list entries (parties and vessels), top goods concerns and
flagged destinations."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from html import escape
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from service.batch.journal import write_atomically
from service.batch.worker import ChunkStats

if TYPE_CHECKING:
    from service.rulepack import Pack

TOP = 15
DECISION_COLOURS = {"block": "#c0392b", "review": "#d68910", "clear": "#1e8449"}


@dataclass(frozen=True)
class RunFacts:
    """What the summary says about the run itself (besides the counts)."""

    run_id: str
    screened_at: datetime
    started_at: datetime
    finished_at: datetime
    wall_seconds: float
    attempts: int
    engine: str
    inputs: list[str]
    outputs: dict[str, str]
    fail_on: str | None
    exit_code: int


def build_summary(stats: ChunkStats, facts: RunFacts, pack: Pack) -> dict[str, Any]:
    """The content of summary.json: run facts, counts and the top lists the report charts."""
    from service.engine.reference import country_table

    rule_titles = {rule.id: rule.title for rule in pack.rules}
    countries = country_table()

    def entry_name(entry_id: str) -> str:
        entry = pack.entry(entry_id)
        if entry is None:
            return stats.entry_names.get(entry_id, entry_id)
        return str(getattr(entry, "name", None) or getattr(entry, "title", entry_id))

    decisions = {d: stats.decisions.get(d, 0) for d in ("block", "review", "clear")}
    return {
        "run": {
            "run_id": facts.run_id, "screened_at": facts.screened_at.isoformat(),
            "started_at": facts.started_at.isoformat(), "finished_at": facts.finished_at.isoformat(),
            "wall_seconds": round(facts.wall_seconds, 3), "attempts": facts.attempts, "engine": facts.engine,
            "records_per_second": round(stats.records / facts.wall_seconds, 1) if facts.wall_seconds else None,
            "inputs": facts.inputs, "outputs": facts.outputs, "fail_on": facts.fail_on,
            "exit_code": facts.exit_code,
            "pack": {"name": pack.info.name, "version": pack.info.version, "digest": pack.info.digest,
                     "imported_lists": dict(sorted(pack.list_digests.items()))},
        },
        "counts": {"records": stats.records, "screened": stats.screened, "bad_rows": stats.bad_rows,
                   "hits": stats.hits, "decisions": decisions},
        "top_rules": [{"rule": rule, "title": rule_titles.get(rule, rule), "records": n}
                      for rule, n in _top(stats.rules)],
        "top_entries": [{"entry": entry, "name": entry_name(entry), "list": stats.entry_lists.get(entry),
                         "records": n} for entry, n in _top(stats.entries)],
        "top_goods": [{"entry": entry, "title": entry_name(entry), "records": n} for entry, n in _top(stats.goods)],
        "flagged_destinations": [{"country": code, "name": countries.name(code) if len(code) == 2 else code,
                                  "records": n} for code, n in _top(stats.destinations)],
    }


def _top(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP]


def bar_chart(items: list[tuple[str, int]], colours: dict[str, str] | None = None, label_width: int = 260,
              title: str = "") -> Markup:
    """A horizontal bar chart as inline SVG (labels escaped); an empty list gives a short note instead."""
    if not items:
        return Markup('<p class="empty">None.</p>')
    bar_height, gap, value_width, chart_width = 22, 6, 70, 420
    height = len(items) * (bar_height + gap) + gap
    peak = max(value for _, value in items) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{label_width + chart_width + value_width}" '
             f'height="{height}" aria-label="{escape(title)}">']
    for i, (label, value) in enumerate(items):
        y = gap + i * (bar_height + gap)
        width = max(1.0, chart_width * value / peak)
        colour = (colours or {}).get(label, "#2e6da4")
        shown = label if len(label) <= 38 else label[:37] + "…"
        parts.append(f'<text x="{label_width - 8}" y="{y + bar_height - 6}" text-anchor="end">'
                     f'<title>{escape(label)}</title>{escape(shown)}</text>')
        parts.append(f'<rect x="{label_width}" y="{y}" width="{width:.1f}" height="{bar_height}" fill="{colour}"/>')
        parts.append(f'<text x="{label_width + width + 6:.1f}" y="{y + bar_height - 6}">{value:,}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def render_html(summary: dict[str, Any]) -> str:
    """The HTML report of a summary: one page, no external resources."""
    template_text = resources.files("service.batch").joinpath("templates", "report.html").read_text("utf-8")
    environment = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = environment.from_string(template_text)
    counts = summary["counts"]
    charts = {
        "decisions": bar_chart([(d, n) for d, n in counts["decisions"].items()], DECISION_COLOURS, 120,
                               "Decisions"),
        "rules": bar_chart([(f"{r['rule']}", r["records"]) for r in summary["top_rules"]], title="Top rules"),
        "entries": bar_chart([(f"{e['name']} ({e['entry']})", e["records"]) for e in summary["top_entries"]],
                             title="Top matched list entries"),
        "goods": bar_chart([(f"{g['title']} ({g['entry']})", g["records"]) for g in summary["top_goods"]],
                           title="Top goods concerns"),
        "destinations": bar_chart([(f"{d['name']} ({d['country']})" if d["name"] != d["country"] else d["name"],
                                    d["records"]) for d in summary["flagged_destinations"]],
                                  title="Flagged destinations"),
    }
    return template.render(summary=summary, run=summary["run"], counts=counts, charts=charts)


def write_report(report_path: Path, summary: dict[str, Any]) -> Path:
    """Write the HTML report and summary.json beside it (both atomically); returns the summary's path."""
    summary_path = report_path.with_name("summary.json")
    write_atomically(summary_path, (json.dumps(summary, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    write_atomically(report_path, render_html(summary).encode("utf-8"))
    return summary_path
