"""US Consolidated Screening List: CSV (2022 and 2025 layouts, gzipped or not) and JSON."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest

from service.errors import ListImportError
from service.lists import CompiledList, import_list
from service.lists.us_csl import parse_id_item
from service.model import IdentifierKind
from service.rulepack.spec import EntryType
from tests.lists.conftest import by_id


@pytest.fixture(scope="module")
def csl(fixtures: Path) -> CompiledList:
    return import_list("us-csl", fixtures / "us_csl")


def test_csv_counts(csl: CompiledList) -> None:
    assert csl.meta.name == "us-csl"
    assert csl.meta.source_format == "us-csl-csv"
    assert csl.meta.published is None
    # 44 records; the CAP record of BANK OF KUNLUN is repeated word for word and becomes one entry
    assert csl.meta.entry_count == 43
    assert csl.meta.skipped == {"repeated records merged into one entry": 1}


def test_one_entry_per_list_of_the_same_party(csl: CompiledList) -> None:
    entries = by_id(csl)
    for abbreviation in ("cap", "sdn", "ssi"):
        entry = entries[f"us-csl-{abbreviation}-18725"]
        assert entry.name == "BANCO VTB AFRICA SA"
        assert entry.listings[0].authority == "OFAC"
        assert entry.listings[0].reference == "18725"


def test_csv_record(csl: CompiledList) -> None:
    entries = by_id(csl)
    sovcom = entries["us-csl-sdn-34757"]
    assert sovcom.type == EntryType.organization
    assert sovcom.identifiers[IdentifierKind.inn] == ["7707404272"]
    assert sovcom.identifiers[IdentifierKind.ogrn] == ["1187746039392"]
    assert sovcom.countries == ["RU"]
    assert "VOSTOCHNY CAPITAL MANAGEMENT COMPANY LLC" in sovcom.aliases
    person = entries["us-csl-sdn-21944"]
    assert person.type == EntryType.person
    assert person.birth_dates == ["1973-03-25"]
    assert person.countries == ["SY"]
    okpo = entries["us-csl-ssi-19692"]
    assert okpo.identifiers[IdentifierKind.okpo] == ["32131525"]


def test_csv_vessel_and_aircraft(csl: CompiledList) -> None:
    entries = by_id(csl)
    vessel = entries["us-csl-sdn-23156"]
    assert vessel.type == EntryType.vessel
    assert vessel.identifiers == {IdentifierKind.imo: ["8898831"]}
    assert vessel.flag == "KP"
    aircraft = entries["us-csl-sdn-15445"]
    assert aircraft.type == EntryType.organization
    assert aircraft.notes.startswith("aircraft")


def test_csv_lists_without_types(csl: CompiledList) -> None:
    entries = by_id(csl)
    bis = next(e for e in csl.entries if e.name == "Tambov Plant (TZ) “October”")
    assert bis.id.startswith("us-csl-el-")
    assert bis.type == EntryType.organization
    assert "type not given by the list" in bis.notes
    assert bis.listings[0].authority == "BIS"
    assert bis.listings[0].date == "2022-04-07"
    # "Tambov Plant (TZ) October JSC; and JSC Octayabr": the joining word is not part of the alias
    assert "JSC Octayabr" in bis.aliases
    assert entries["us-csl-dtc-5f779c8c4215a6418d6e7e0c6f258561ad44f619"].listings[0].authority == "US-State"


def test_2025_layout_puts_the_type_first(fixtures: Path) -> None:
    compiled = import_list("us-csl", fixtures / "us_csl_2025" / "consolidated.csv")
    assert compiled.meta.entry_count == 13
    rim = by_id(compiled)["us-csl-sdn-52291"]
    assert rim.identifiers == {IdentifierKind.passport: ["836238033"]}
    assert rim.countries == ["CN", "KP"]


@pytest.mark.parametrize(("item", "expected"), [
    ("RU, 7707404272, Tax ID No.", ("Tax ID No.", "7707404272", "RU")),
    ("Passport, 836238033, KP", ("Passport", "836238033", "KP")),
    ("Male, Gender", ("Gender", "Male", "")),
    ("Gender, Male", ("Gender", "Male", "")),
    ("IMO 8898831, Vessel Registration Identification", ("Vessel Registration Identification", "IMO 8898831", "")),
    ("Secondary sanctions risk:, North Korea Sanctions Regulations, sections 510.201 and 510.210",
     ("Secondary sanctions risk:", "North Korea Sanctions Regulations, sections 510.201 and 510.210", "")),
])
def test_id_items_in_both_layouts(item: str, expected: tuple[str, str, str]) -> None:
    assert parse_id_item(item) == expected


def test_json_gives_the_same_entries_as_the_csv(fixtures: Path, csl: CompiledList) -> None:
    compiled = import_list("us-csl", fixtures / "us_csl_json" / "consolidated.json")
    assert compiled.meta.source_format == "us-csl-json"
    assert compiled.meta.published == date(2022, 5, 16)
    from_csv = by_id(csl)
    assert compiled.meta.entry_count == 8
    for entry in compiled.entries:
        same = from_csv[entry.id]
        assert (entry.name, entry.type, entry.aliases) == (same.name, same.type, same.aliases)
        assert dict(entry.identifiers) == dict(same.identifiers)
        assert entry.countries == same.countries
        assert entry.birth_dates == same.birth_dates
        assert entry.flag == same.flag


def test_gzipped_json(fixtures: Path, tmp_path: Path) -> None:
    data = (fixtures / "us_csl_json" / "consolidated.json").read_bytes()
    (tmp_path / "consolidated.json.gz").write_bytes(gzip.compress(data))
    assert import_list("us-csl", tmp_path).meta.entry_count == 8


def test_missing_column_is_refused(tmp_path: Path) -> None:
    (tmp_path / "consolidated.csv").write_text("_id,source,name\n1,X,Y\n", encoding="utf-8")
    with pytest.raises(ListImportError, match="line 1: missing columns entity_number, type"):
        import_list("us-csl", tmp_path)


def test_short_row_names_its_line(fixtures: Path, tmp_path: Path) -> None:
    lines = (fixtures / "us_csl_2025" / "consolidated.csv").read_text(encoding="utf-8").splitlines()
    lines.insert(4, '"1","Capta List (CAP) - Treasury Department","1"')
    (tmp_path / "consolidated.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ListImportError, match=r"consolidated\.csv: line 5: expected 29 fields, found 3"):
        import_list("us-csl", tmp_path)


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "consolidated.json").write_text('{"results": [\n  {"_id": "1",\n  "source" "x"}]}',
                                                encoding="utf-8")
    with pytest.raises(ListImportError, match="line 3, column 12: malformed JSON"):
        import_list("us-csl", tmp_path)


def test_json_record_without_name(tmp_path: Path) -> None:
    document = {"results": [{"_id": "1", "source": "Entity List (EL) - Bureau of Industry and Security",
                             "name": "Acme", "type": ""},
                            {"_id": "2", "source": "Entity List (EL) - Bureau of Industry and Security",
                             "name": " ", "type": ""}]}
    (tmp_path / "consolidated.json").write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ListImportError, match=r"results\[1\]: 'name' is empty"):
        import_list("us-csl", tmp_path)


def test_folder_with_two_candidate_files(fixtures: Path, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes((fixtures / "us_csl_2025" / "consolidated.csv").read_bytes())
    (tmp_path / "b.csv").write_bytes((fixtures / "us_csl_2025" / "consolidated.csv").read_bytes())
    with pytest.raises(ListImportError, match=r"expected one CSL file, found 2 \(a.csv, b.csv\)"):
        import_list("us-csl", tmp_path)
