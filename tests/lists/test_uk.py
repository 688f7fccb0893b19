"""UK: OFSI ConList (xlsx and csv) and the UK Sanctions List CSV tables."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from service.errors import ListImportError
from service.lists import CompiledList, import_list
from service.model import IdentifierKind
from service.rulepack.spec import AliasQuality, AliasSpec, EntryType
from tests.lists.conftest import by_id


@pytest.fixture(scope="module")
def conlist(fixtures: Path) -> CompiledList:
    return import_list("uk", fixtures / "uk_conlist" / "ConList.xlsx")


@pytest.fixture(scope="module")
def tables(fixtures: Path) -> CompiledList:
    return import_list("uk", fixtures / "uk_tables")


def test_conlist_metadata(conlist: CompiledList) -> None:
    assert conlist.meta.name == "uk-sanctions-list"
    assert conlist.meta.source_format == "uk-ofsi-conlist-xlsx"
    assert conlist.meta.published == date(2025, 4, 10)  # row 1: "Last Updated, 10/04/2025"
    assert conlist.meta.entry_count == 22  # one entry per Group ID
    assert conlist.meta.counts_by_type == {"organization": 7, "person": 13, "vessel": 2}


def test_conlist_groups_rows_into_one_entry(conlist: CompiledList) -> None:
    person = by_id(conlist)["uk-ghr0086"]
    assert person.type == EntryType.person
    assert person.name == "Mian Abdul HAQ"  # the "Primary name" row, given names then family name
    assert set(person.aliases) == {"Mian MITHOO", "Mian MITHU", "Mian MITTO", "Mian MITTU"}
    assert person.listings[0].programs == ["Global Human Rights"]
    assert person.listings[0].date == "2022-12-09"
    assert person.listings[0].reference == "GHR0086"
    assert person.countries == ["PK"]


def test_conlist_ship(conlist: CompiledList) -> None:
    ship = by_id(conlist)["uk-dpr0100"]
    assert ship.type == EntryType.vessel
    assert ship.identifiers == {IdentifierKind.imo: ["7408873"]}  # "(IMO number):7408873" in Other Information
    assert ship.flag == "KP"  # "(Flag of ship):North Korea"
    assert "AKTIVA" in ship.aliases


def test_conlist_business_numbers(conlist: CompiledList) -> None:
    entries = by_id(conlist)
    assert entries["uk-rus2102"].identifiers == {IdentifierKind.inn: ["7718763393"]}
    assert entries["uk-rus2305"].identifiers == {IdentifierKind.registration: ["170440031562"]}
    # "(1) (УНН/ИНН): 190950894 (Belarus) (2) 7704734000/770301001 (Russia)"
    assert dict(entries["uk-bel0065"].identifiers) == {IdentifierKind.tax_id: ["190950894"],
                                                       IdentifierKind.inn: ["7704734000"]}


def test_conlist_weak_aliases_and_non_latin_names(conlist: CompiledList) -> None:
    weak = {(e.id, a.name) for e in conlist.entries for a in e.aliases
            if isinstance(a, AliasSpec) and a.quality == AliasQuality.weak}
    assert {e for e, _ in weak} == {"uk-aqd0125"}  # its aliases of "Alias Quality: Low quality"
    assert "ТОО ЗАПЧАСТЬ ТРЕЙД" in by_id(conlist)["uk-rus2305"].aliases


def test_conlist_target_without_uk_reference(conlist: CompiledList) -> None:
    entry = by_id(conlist)["uk-ofsi-15878"]
    assert entry.name == "Alexander SAMOFAL"
    assert entry.listings[0].reference == "OFSI group 15878"


def test_conlist_csv_equals_xlsx(fixtures: Path, conlist: CompiledList) -> None:
    compiled = import_list("uk", fixtures / "uk_conlist_csv")
    assert compiled.meta.source_format == "uk-ofsi-conlist-csv"
    assert compiled.entries == conlist.entries


def test_conlist_missing_column(fixtures: Path, tmp_path: Path) -> None:
    text = (fixtures / "uk_conlist_csv" / "ConList.csv").read_text(encoding="utf-8")
    (tmp_path / "ConList.csv").write_text(text.replace("Group ID", "Group", 1), encoding="utf-8")
    with pytest.raises(ListImportError, match=r"ConList\.csv: row 2: missing columns Group ID"):
        import_list("uk", tmp_path)


def test_conlist_row_without_group(fixtures: Path, tmp_path: Path) -> None:
    rows = list(csv.reader(io.StringIO((fixtures / "uk_conlist_csv" / "ConList.csv").read_text(encoding="utf-8"))))
    rows[5][-1] = ""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    (tmp_path / "ConList.csv").write_text(buffer.getvalue(), encoding="utf-8")
    with pytest.raises(ListImportError, match=r"ConList\.csv: row 6: no Group ID"):
        import_list("uk", tmp_path)


def test_damaged_workbook(tmp_path: Path) -> None:
    (tmp_path / "ConList.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(ListImportError, match=r"ConList\.xlsx: not a readable xlsx workbook"):
        import_list("uk", tmp_path)


def test_tables(tables: CompiledList) -> None:
    assert tables.meta.source_format == "uk-sanctions-list-csv-tables"
    assert tables.meta.entry_count == 21
    assert tables.meta.published == date(2026, 4, 16)  # the latest last_updated
    entries = by_id(tables)
    ship = entries["uk-dpr0075"]
    assert ship.type == EntryType.vessel
    assert ship.identifiers == {IdentifierKind.imo: ["9562233"]}  # written "IMO9562233"
    person = entries["uk-afg0006"]
    assert person.identifiers[IdentifierKind.passport] == ["P04581926"]
    assert "1969-06-04" in person.birth_dates
    assert person.countries == ["AF"]  # nationality and address; the birth country is not a location
    assert entries["uk-bel0107"].identifiers == {IdentifierKind.registration: ["06527449"]}
    weak = [a for a in entries["uk-afg0001"].aliases if isinstance(a, AliasSpec)]
    assert all(a.quality == AliasQuality.weak for a in weak)


def test_tables_and_conlist_share_ids(tables: CompiledList, conlist: CompiledList) -> None:
    shared = set(by_id(tables)) & set(by_id(conlist))
    assert {"uk-rus2080", "uk-dpr0097", "uk-ghr0086", "uk-bel0065"} <= shared


def test_tables_missing_file(fixtures: Path, tmp_path: Path) -> None:
    for name in ("subjects.csv", "subject_names.csv", "subject_dobs.csv", "subject_countries.csv"):
        (tmp_path / name).write_bytes((fixtures / "uk_tables" / name).read_bytes())
    with pytest.raises(ListImportError, match=r"missing subject_identifiers\.csv"):
        import_list("uk", tmp_path)


def test_tables_rows_of_unknown_subjects_are_counted(fixtures: Path, tmp_path: Path) -> None:
    for name in ("subjects.csv", "subject_names.csv", "subject_dobs.csv", "subject_countries.csv",
                 "subject_identifiers.csv"):
        (tmp_path / name).write_bytes((fixtures / "uk_tables" / name).read_bytes())
    with (tmp_path / "subject_names.csv").open("a", encoding="utf-8") as handle:
        handle.write("99999,XXX0001,alias,,Nobody Listed,Nobody Listed,,,,,\n")
    compiled = import_list("uk", tmp_path)
    assert compiled.meta.skipped == {"subject_names.csv rows of subjects not in subjects.csv": 1}
