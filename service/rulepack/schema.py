"""The generated JSON schema of pack files (``rules/schema.json``)."""

from __future__ import annotations

import json

from service.rulepack.spec import json_schema


def schema_text() -> str:
    """The schema as stable, pretty-printed JSON text (what rules/schema.json must equal)."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
