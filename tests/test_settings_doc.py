"""The configuration reference in docs/operations.md is the one generated from the settings model."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings
from service.settings_doc import END_MARKER, START_MARKER, embedded_table, main, settings_table, with_current_table

OPERATIONS = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


def test_operations_guide_carries_the_current_settings_table() -> None:
    """Fails when a setting is added, removed or changed without regenerating the table:
    python -m service.settings_doc --write docs/operations.md"""
    assert embedded_table(OPERATIONS.read_text(encoding="utf-8")) == settings_table()


def test_every_setting_has_a_row_with_its_variable_and_description() -> None:
    rows = settings_table().splitlines()[2:]
    assert len(rows) == len(Settings.model_fields)
    for row, (name, field) in zip(rows, Settings.model_fields.items(), strict=True):
        assert row.startswith(f"| `SCREENING_{name.upper()}` |")
        assert field.description
        assert " ".join(field.description.split()).replace("|", "\\|") in row


def test_rows_render_types_bounds_and_defaults() -> None:
    table = settings_table()
    assert "| `SCREENING_AUTH` | `enabled` or `disabled` | `enabled` |" in table
    assert "| `SCREENING_MAX_BODY_BYTES` | integer, ≥ 1024 | `5000000` |" in table
    assert "| `SCREENING_LOG_CLEAR_RECORDS` | boolean | `true` |" in table
    assert "| `SCREENING_DATABASE_URL` | string (optional) | unset |" in table
    assert "| `SCREENING_IMPORTED_LISTS` | JSON array of strings (optional) | unset |" in table


def test_table_does_not_depend_on_the_machine() -> None:
    """Defaults computed from where the checkout or the home folder is are described, not printed."""
    table = settings_table()
    assert str(Path.home()) not in table
    assert str(Path(__file__).resolve().parent.parent) not in table


def test_a_stale_table_is_detected_and_rewritten(tmp_path: Path) -> None:
    stale = f"# Guide\n\n{START_MARKER}\n| variable |\n|---|\n| `SCREENING_GONE` |\n{END_MARKER}\n\nAfter.\n"
    document = tmp_path / "operations.md"
    document.write_text(stale, encoding="utf-8")
    assert main(["--check", str(document)]) == 1
    assert main(["--write", str(document)]) == 0
    rewritten = document.read_text(encoding="utf-8")
    assert rewritten == with_current_table(stale)
    assert rewritten.startswith("# Guide\n\n") and rewritten.endswith("\n\nAfter.\n")
    assert "SCREENING_GONE" not in rewritten
    assert main(["--check", str(document)]) == 0


def test_a_document_without_markers_is_an_error(tmp_path: Path) -> None:
    document = tmp_path / "operations.md"
    document.write_text("# Guide\n", encoding="utf-8")
    assert main(["--check", str(document)]) == 2
    with pytest.raises(ValueError, match="no settings table"):
        embedded_table("# Guide\n")
