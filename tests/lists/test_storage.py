"""Compiled list files: round trip, loading by name, status and staleness."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from service.errors import ListImportError
from service.lists import (
    CompiledList,
    import_list,
    list_status,
    load_compiled_list,
    load_compiled_lists,
    read_list_meta,
    save_compiled_list,
    stale_lists,
)
from service.lists.storage import compiled_path


def test_round_trip_is_exact(sdn_csv: CompiledList, tmp_path: Path) -> None:
    path = save_compiled_list(sdn_csv, tmp_path)
    assert path == tmp_path / "lists" / "ofac-sdn.json.gz"
    loaded = load_compiled_list(path)
    assert loaded.meta == sdn_csv.meta
    assert loaded.entries == sdn_csv.entries
    assert read_list_meta(path) == sdn_csv.meta


def test_every_fixture_round_trips(fixtures: Path, tmp_path: Path) -> None:
    for source, folder in (("ofac-cons", "ofac_cons"), ("us-csl", "us_csl"), ("uk", "uk_tables"), ("un", "un"),
                           ("eu", "eu"), ("opensanctions", "opensanctions")):
        compiled = import_list(source, fixtures / folder)
        loaded = load_compiled_list(save_compiled_list(compiled, tmp_path))
        assert loaded.entries == compiled.entries, source


def test_party_list_for_the_pack(sdn_csv: CompiledList) -> None:
    party_list = sdn_csv.to_party_list()
    assert party_list.name == "ofac-sdn"
    assert list(party_list.entries) == sdn_csv.entries
    # the digest names the source files and the importer that read them
    assert party_list.digest == f"{sdn_csv.meta.source_digest} importer {sdn_csv.meta.importer_version}"


def test_load_all_or_by_name(fixtures: Path, sdn_csv: CompiledList, tmp_path: Path) -> None:
    assert load_compiled_lists(tmp_path) == []
    save_compiled_list(sdn_csv, tmp_path)
    save_compiled_list(import_list("un", fixtures / "un"), tmp_path)
    assert [c.meta.name for c in load_compiled_lists(tmp_path)] == ["ofac-sdn", "un-consolidated"]
    assert [c.meta.name for c in load_compiled_lists(tmp_path, ["un-consolidated", "ofac-sdn"])] == \
        ["un-consolidated", "ofac-sdn"]
    with pytest.raises(ListImportError, match=r"list 'eu-fsf' has not been imported.*screening lists import"):
        load_compiled_lists(tmp_path, ["eu-fsf"])


def test_a_new_import_replaces_the_file(fixtures: Path, tmp_path: Path) -> None:
    first = import_list("un", fixtures / "un", now=datetime(2026, 3, 1, tzinfo=UTC))
    second = import_list("un", fixtures / "un", now=datetime(2026, 3, 2, tzinfo=UTC))
    save_compiled_list(first, tmp_path)
    save_compiled_list(second, tmp_path)
    assert read_list_meta(compiled_path(tmp_path, "un-consolidated")).imported_at == second.meta.imported_at


def test_status_ages_from_publication_or_import(fixtures: Path, sdn_csv: CompiledList, tmp_path: Path) -> None:
    imported = datetime(2026, 3, 1, 12, tzinfo=UTC)
    un = import_list("un", fixtures / "un", now=imported)  # published 2026-02-27
    csv_list = sdn_csv.model_copy(update={"meta": sdn_csv.meta.model_copy(update={"imported_at": imported})})
    save_compiled_list(un, tmp_path)
    save_compiled_list(csv_list, tmp_path)
    (tmp_path / "lists" / "broken.json.gz").write_bytes(b"garbage")
    statuses = {s.name: s for s in list_status(tmp_path, max_age_days=7, today=date(2026, 3, 7))}
    assert statuses["un-consolidated"].age_days == 8
    assert statuses["un-consolidated"].age_basis == "published"
    assert statuses["un-consolidated"].stale
    assert statuses["ofac-sdn"].age_days == 6  # the CSV has no date: counted from the import
    assert statuses["ofac-sdn"].age_basis == "imported"
    assert not statuses["ofac-sdn"].stale
    assert statuses["broken"].meta is None and statuses["broken"].stale
    assert "damaged compiled list" in (statuses["broken"].error or "")
    assert {s.name for s in stale_lists(list(statuses.values()))} == {"un-consolidated", "broken"}


def test_status_of_an_empty_data_folder(tmp_path: Path) -> None:
    assert list_status(tmp_path / "nowhere", 7) == []


def test_imported_at_defaults_to_now(fixtures: Path) -> None:
    compiled = import_list("un", fixtures / "un")
    assert datetime.now(UTC) - compiled.meta.imported_at < timedelta(minutes=5)


def test_public_names() -> None:
    import service.lists

    assert sorted(service.lists.__all__) == sorted([
        "IMPORTER_VERSION", "SOURCES", "CompiledList", "EntryChange", "ListDiff", "ListMeta", "ListName",
        "ListStatus", "compiled_path", "diff_lists", "import_list", "list_status", "load_compiled_list",
        "load_compiled_lists", "read_list_meta", "save_compiled_list", "stale_lists"])
    assert all(hasattr(service.lists, name) for name in service.lists.__all__)
    assert set(service.lists.SOURCES) == {"ofac-sdn", "ofac-cons", "us-csl", "uk", "un", "eu", "opensanctions"}


def test_entries_are_stored_one_per_line_and_version_1_files_still_load(sdn_csv: CompiledList,
                                                                        tmp_path: Path) -> None:
    """Version 2 keeps one entry per line (validated a chunk at a time, so a reloading server's other threads
    are not held up); a file written by version 1 (one JSON array) loads the same."""
    import gzip
    import hashlib
    import json

    from service.rulepack.compiled import PARTY_ENTRIES

    path = save_compiled_list(sdn_csv, tmp_path)
    with gzip.open(path, "rb") as packed:
        lines = packed.read().splitlines()
    assert json.loads(lines[0])["version"] == 2
    assert len(lines) == 1 + len(sdn_csv.entries)
    assert [json.loads(line)["id"] for line in lines[1:]] == [entry.id for entry in sdn_csv.entries]

    array = PARTY_ENTRIES.dump_json(sdn_csv.entries, exclude_defaults=True)
    header = {**json.loads(lines[0]), "version": 1, "entries_sha256": hashlib.sha256(array).hexdigest()}
    old = tmp_path / "old" / "lists" / path.name
    old.parent.mkdir(parents=True)
    with gzip.open(old, "wb") as packed:
        packed.write(json.dumps(header).encode() + b"\n" + array + b"\n")
    assert load_compiled_list(old).entries == sdn_csv.entries


def test_a_damaged_entry_is_named_by_its_place_in_the_file(sdn_csv: CompiledList, tmp_path: Path) -> None:
    import gzip
    import hashlib
    import json

    path = save_compiled_list(sdn_csv, tmp_path)
    with gzip.open(path, "rb") as packed:
        header, *entries = packed.read().splitlines()
    entries[1] = entries[1].replace(b'"type":"', b'"type":"x')  # the second entry's type is no longer a type
    body = b"".join(line + b"\n" for line in entries)
    fixed = {**json.loads(header), "entries_sha256": hashlib.sha256(body).hexdigest()}
    with gzip.open(path, "wb") as packed:
        packed.write(json.dumps(fixed).encode() + b"\n" + body)
    with pytest.raises(ListImportError, match=r"(?s)damaged compiled list, in entries 1 to \d+: .*1\.type"):
        load_compiled_list(path)
