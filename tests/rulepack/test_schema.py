from __future__ import annotations

from pathlib import Path

from service.rulepack.schema import schema_text

SCHEMA = Path(__file__).resolve().parents[2] / "rules" / "schema.json"


def test_schema_json_is_up_to_date() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == schema_text(), (
        "rules/schema.json drifted from the spec models: run `screening rules schema --write rules/schema.json`")
