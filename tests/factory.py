"""Builders for tests: records with sensible defaults, and tiny rule packs written to a folder."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from service.model import Record, parse_record


def record(**fields: Any) -> Record:
    """A Record with an id and whatever fields are given."""
    fields.setdefault("id", "test-record")
    return parse_record(fields)


def counterparty(name: str, country: str | None = None, **party: Any) -> Record:
    data: dict[str, Any] = {"role": "counterparty", "name": name, **party}
    if country:
        data["country"] = country
    return record(kind="counterparty", parties=[data])


def slug(text: str) -> str:
    """A kebab-case id from any text."""
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return value[:60] or "x"


SOURCE = {
    "id": "test-source",
    "title": "Test source",
    "issuer": "Test suite",
    "date": "2026-01-01",
    "url": "https://example.org/test",
    "kind": "official",
    "verification": "V-off",
    "summary": "A source invented for tests.",
    "facts": ["Facts invented for tests."],
}

MATCH_RULE = {
    "id": "any-party-match",
    "title": "Any party match",
    "severity": "high",
    "action": "review",
    "reason": "{value} matches {entry_name} ({score})",
    "sources": ["test-source"],
    "when": {"kind": "party_match", "min_score": "weak", "entry_types": ["organization", "person", "vessel"]},
}

MATCH_RULE_CASES = {
    "cases": [
        {"name": "fires", "fires": True, "record": {"id": "c1", "parties": [{"name": "{first}"}]}},
        {"name": "does not fire", "fires": False,
         "record": {"id": "c2", "parties": [{"name": "Completely Unrelated Bakery"}]}},
    ]
}


def write_yaml(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def write_pack(root: Path, *, parties: list[dict[str, Any]] | None = None,
               lists: dict[str, Any] | None = None, rules: list[dict[str, Any]] | None = None,
               cases: dict[str, Any] | None = None, pack: dict[str, Any] | None = None) -> Path:
    """Write a minimal valid pack (one source, the given lists and rules) under ``root`` and return its folder.

    With no rules given, the pack holds ``any-party-match`` (a review on any party match of weak strength or
    better) with cases built from the first party's name.
    """
    pack_dir = root / "pack"
    write_yaml(root / "seeds" / "test-source.yaml", SOURCE)
    write_yaml(pack_dir / "pack.yaml", {"name": "test-pack", "version": "1", "sources_dir": "../seeds",
                                        **(pack or {})})
    list_data: dict[str, Any] = dict(lists or {})
    if parties is not None:
        list_data["parties"] = [{"sources": ["test-source"], **p} for p in parties]
    write_yaml(pack_dir / "lists" / "test.yaml", list_data)
    if rules is None:
        first = (parties or [{"name": "Nobody"}])[0]["name"]
        rules = [MATCH_RULE]
        text = yaml.safe_dump(MATCH_RULE_CASES, allow_unicode=True)
        text = text.replace("'{first}'", json.dumps(first, ensure_ascii=False))
        cases = {MATCH_RULE["id"]: yaml.safe_load(text)}
    for rule in rules:
        write_yaml(pack_dir / "rules" / f"{rule['id']}.yaml", rule)
        write_yaml(pack_dir / "rules" / f"{rule['id']}.cases.yaml", (cases or {})[rule["id"]])
    return pack_dir
