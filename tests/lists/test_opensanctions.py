"""OpenSanctions FollowTheMoney entities (JSON lines; fixture written by hand in the FtM layout)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from service.errors import ListImportError
from service.lists import CompiledList, import_list
from service.model import IdentifierKind
from service.rulepack.spec import AliasQuality, AliasSpec, EntryType
from tests.lists.conftest import by_id


@pytest.fixture(scope="module")
def os_list(fixtures: Path) -> CompiledList:
    return import_list("opensanctions", fixtures / "opensanctions")


def test_metadata_and_skipped(os_list: CompiledList) -> None:
    assert os_list.meta.name == "opensanctions"
    assert os_list.meta.entry_count == 11
    assert os_list.meta.published == date(2025, 3, 2)  # latest last_change
    assert os_list.meta.skipped == {"not a sanctions target": 1, "schema Address": 1, "schema Ownership": 1,
                                    "schema Sanction": 1}
    assert os_list.meta.unresolved_countries == {"suhh": 1}


def test_ids_are_lower_case(os_list: CompiledList) -> None:
    entry = by_id(os_list)["os-nk-3txb8lmqyr2avc9pzk4wje"]
    assert entry.listings[0].reference == "NK-3tXb8LmQyR2aVc9PzK4wJe"  # the original id is kept


def test_company(os_list: CompiledList) -> None:
    vtb = by_id(os_list)["os-ofac-17013"]
    assert vtb.name == "VTB BANK PUBLIC JOINT STOCK COMPANY"
    assert "БАНК ВТБ ПУБЛИЧНОЕ АКЦИОНЕРНОЕ ОБЩЕСТВО" in vtb.aliases  # a second name
    assert vtb.identifiers == {IdentifierKind.inn: ["7702070139"], IdentifierKind.ogrn: ["1027739609391"],
                               IdentifierKind.lei: ["253400V1H6ART1UQ0N98"]}
    assert "swiftBic: VTBRRUMM" in vtb.notes


def test_weak_aliases_vessels_aircraft(os_list: CompiledList) -> None:
    entries = by_id(os_list)
    hesa = entries["os-ofac-11195"]
    assert {a.name for a in hesa.aliases if isinstance(a, AliasSpec) and a.quality == AliasQuality.weak} == \
        {"HESA", "IAMI"}
    assert entries["os-ofac-11195"].type == EntryType.organization  # LegalEntity
    vessel = entries["os-ofac-21115"]
    assert vessel.type == EntryType.vessel
    assert vessel.identifiers == {IdentifierKind.imo: ["9690224"]}
    assert vessel.flag == "RU"
    assert entries["os-ofac-4243"].aliases == ["ANA I", "SAND SWAN"]  # previous names
    plane = entries["os-ofac-15432"]
    assert plane.type == EntryType.organization and plane.notes.startswith("aircraft")


def test_nested_sanctions_and_addresses(os_list: CompiledList) -> None:
    badege = by_id(os_list)["os-nk-3txb8lmqyr2avc9pzk4wje"]
    assert [listing.authority for listing in badege.listings] == ["OpenSanctions", "UN Security Council"]
    assert badege.listings[1].programs == ["DRC"]
    assert badege.listings[1].date == "2012-12-31"
    assert badege.listings[1].reference == "CDi.001"
    assert badege.addresses == ["Rwanda"]


def test_ids_that_collide_in_lower_case(tmp_path: Path) -> None:
    lines = [{"id": "NK-abc", "schema": "Person", "properties": {"name": ["One"]}},
             {"id": "NK-ABC", "schema": "Person", "properties": {"name": ["Two"]}}]
    (tmp_path / "e.json").write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    compiled = import_list("opensanctions", tmp_path)
    ids = [entry.id for entry in compiled.entries]
    assert ids[0] == "os-nk-abc"
    assert ids[1].startswith("os-nk-abc-") and len(set(ids)) == 2


def test_malformed_line_is_named(tmp_path: Path) -> None:
    good = json.dumps({"id": "x", "schema": "Person", "properties": {"name": ["One"]}})
    (tmp_path / "e.json").write_text(f"{good}\n\n{good[:-3]}\n", encoding="utf-8")
    with pytest.raises(ListImportError, match=r"e.json: line 3, column \d+: malformed JSON"):
        import_list("opensanctions", tmp_path)


def test_entity_without_name(tmp_path: Path) -> None:
    (tmp_path / "e.json").write_text(json.dumps({"id": "x", "schema": "Company", "properties": {}}) + "\n",
                                     encoding="utf-8")
    with pytest.raises(ListImportError, match=r"e\.json: line 1: entity x has no 'name' property"):
        import_list("opensanctions", tmp_path)


def test_only_skipped_entities_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "e.json").write_text(json.dumps({"id": "s", "schema": "Sanction", "properties": {}}) + "\n",
                                     encoding="utf-8")
    with pytest.raises(ListImportError, match="holds no entries"):
        import_list("opensanctions", tmp_path)
