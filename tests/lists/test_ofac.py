"""OFAC readers: legacy CSV (sdn.csv + alt.csv + add.csv + sdn_comments.csv), classic sdn.xml, Enhanced XML."""

from __future__ import annotations

import shutil
import zipfile
from datetime import date
from pathlib import Path

import pytest

from service.errors import ListImportError
from service.lists import CompiledList, import_list
from service.model import IdentifierKind
from service.rulepack.spec import AliasQuality, AliasSpec, EntryType, PartySpec
from tests.lists.conftest import by_id


def weak_aliases(entry: PartySpec) -> set[str]:
    return {a.name for a in entry.aliases if isinstance(a, AliasSpec) and a.quality == AliasQuality.weak}


def strong_aliases(entry: PartySpec) -> set[str]:
    return {a if isinstance(a, str) else a.name for a in entry.aliases
            if isinstance(a, str) or a.quality == AliasQuality.strong}


# --- legacy CSV ---------------------------------------------------------------------------------------------


def test_legacy_csv_counts_and_metadata(sdn_csv: CompiledList) -> None:
    meta = sdn_csv.meta
    assert meta.name == "ofac-sdn"
    assert meta.source_format == "ofac-legacy-csv"
    assert meta.published is None  # the CSV carries no date
    assert meta.entry_count == len(sdn_csv.entries) == 32
    assert meta.counts_by_type == {"organization": 20, "person": 8, "vessel": 4}
    assert meta.source_files == ["add.csv", "alt.csv", "sdn.csv", "sdn_comments.csv"]
    assert meta.source_digest.startswith("sha256:") and len(meta.source_digest) == 7 + 64
    # alias and address rows of an entry added after this sdn.csv are counted, not silently lost
    assert meta.skipped == {"add.csv rows of entries not in sdn.csv": 2, "alt.csv rows of entries not in sdn.csv": 2}
    assert all(entry.sources == ["ofac-sdn"] for entry in sdn_csv.entries)


def test_legacy_csv_aliases_strong_from_alt_weak_from_remarks(sdn_csv: CompiledList) -> None:
    bnc = by_id(sdn_csv)["ofac-sdn-306"]
    assert bnc.name == "BANCO NACIONAL DE CUBA"
    assert strong_aliases(bnc) == {"NATIONAL BANK OF CUBA"}
    assert weak_aliases(bnc) == {"BNC"}
    assert bnc.listings[0].authority == "OFAC" and bnc.listings[0].programs == ["CUBA"]
    assert bnc.listings[0].reference == "306"
    assert set(bnc.countries) >= {"CH", "ES", "JP"}
    assert "Zweierstrasse 35, Zurich CH-8022, Switzerland" in bnc.addresses


def test_legacy_csv_vessel_imo_and_flag(sdn_csv: CompiledList) -> None:
    ebano = by_id(sdn_csv)["ofac-sdn-4243"]
    assert ebano.type == EntryType.vessel
    assert ebano.identifiers == {IdentifierKind.imo: ["7406784"]}
    assert ebano.flag == "PA"
    assert weak_aliases(ebano) == {"ANA I", "SAND SWAN"}
    assert "vessel type: General Cargo" in ebano.notes


def test_legacy_csv_aircraft_kept_as_organization(sdn_csv: CompiledList) -> None:
    aircraft = by_id(sdn_csv)["ofac-sdn-15432"]
    assert aircraft.type == EntryType.organization
    assert aircraft.name == "EP-GOL"
    assert aircraft.notes.startswith("aircraft")
    assert "IL-76TD" in aircraft.notes


def test_legacy_csv_person(sdn_csv: CompiledList) -> None:
    person = by_id(sdn_csv)["ofac-sdn-45710"]
    assert person.type == EntryType.person
    assert person.name == "SHAGIVALEEV, Timur Nailevich"
    assert person.birth_dates == ["1978-01-28"]
    assert person.countries == ["RU"]
    # "Passport 753129173 (Russia) expires 29 Apr 2026": the number alone
    assert person.identifiers[IdentifierKind.passport] == ["753129173"]
    assert person.identifiers[IdentifierKind.national_id] == ["9201745357"]


def test_legacy_csv_russian_numbers(sdn_csv: CompiledList) -> None:
    entries = by_id(sdn_csv)
    vega = entries["ofac-sdn-49316"]
    assert vega.identifiers[IdentifierKind.inn] == ["7730170167"]
    assert vega.identifiers[IdentifierKind.ogrn] == ["1037730020844"]
    fibre = entries["ofac-sdn-40867"]
    assert fibre.identifiers[IdentifierKind.okpo] == ["30371716"]  # "Government Gazette Number"
    # "Registration Number 1061674037259" without a country, for an entry located only in Russia
    alabuga = entries["ofac-sdn-45708"]
    assert alabuga.identifiers[IdentifierKind.ogrn] == ["1061674037259"]
    assert alabuga.identifiers[IdentifierKind.inn] == ["1646019914"]


def test_legacy_csv_remarks_continue_in_comments_file(sdn_csv: CompiledList) -> None:
    # Remarks of 28264 stop at 1,000 characters; the rest (an identifier and two aliases) is in sdn_comments.csv
    person = by_id(sdn_csv)["ofac-sdn-28264"]
    assert person.identifiers[IdentifierKind.national_id] == ["210302198701102136"]
    assert {"blackjack1987", "khaleesi"} <= weak_aliases(person)
    assert "Linked To: LAZARUS GROUP" in person.notes


def test_legacy_csv_programs_split(sdn_csv: CompiledList) -> None:
    qods = by_id(sdn_csv)["ofac-sdn-16418"]
    assert qods.listings[0].programs == ["NPWMD", "IFSR", "IRAN-CON-ARMS-EO", "RUSSIA-EO14024"]


def test_legacy_csv_single_file_picks_up_companions(fixtures: Path, sdn_csv: CompiledList) -> None:
    compiled = import_list("ofac-sdn", fixtures / "ofac_sdn" / "sdn.csv")
    assert compiled.entries == sdn_csv.entries


def test_legacy_csv_without_companions(fixtures: Path, tmp_path: Path) -> None:
    shutil.copy(fixtures / "ofac_sdn" / "sdn.csv", tmp_path / "sdn.csv")
    compiled = import_list("ofac-sdn", tmp_path)
    assert compiled.meta.entry_count == 32
    assert compiled.meta.source_files == ["sdn.csv"]
    assert strong_aliases(by_id(compiled)["ofac-sdn-306"]) == set()


def test_legacy_csv_consolidated_names(fixtures: Path, tmp_path: Path) -> None:
    for source, target in (("sdn.csv", "cons_prim.csv"), ("alt.csv", "cons_alt.csv"), ("add.csv", "cons_add.csv")):
        shutil.copy(fixtures / "ofac_sdn" / source, tmp_path / target)
    compiled = import_list("ofac-cons", tmp_path)
    assert compiled.meta.name == "ofac-cons"
    assert compiled.meta.title.startswith("OFAC Consolidated")
    assert "ofac-cons-306" in by_id(compiled)
    assert strong_aliases(by_id(compiled)["ofac-cons-306"]) == {"NATIONAL BANK OF CUBA"}


@pytest.mark.parametrize(("line", "message"), [
    (b'999,"BROKEN ROW",-0- ,"CUBA"', "sdn.csv: line 3: expected 12 fields, found 4"),
    (b'X1,"BAD ID",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ', "sdn.csv: line 3: ent_num 'X1'"),
    (b'998,"ODD TYPE","spaceship","CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ', "unknown SDN_Type 'spaceship'"),
    (b'306,"SAME NUMBER",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ', "ent_num 306 already used"),
    (b'997,"unclosed quote,-0- ,"CUBA"', "sdn.csv: line"),
])
def test_legacy_csv_malformed_row_names_its_line(fixtures: Path, tmp_path: Path, line: bytes, message: str) -> None:
    rows = (fixtures / "ofac_sdn" / "sdn.csv").read_bytes().split(b"\r\n")
    rows.insert(2, line)
    (tmp_path / "sdn.csv").write_bytes(b"\r\n".join(rows))
    with pytest.raises(ListImportError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_list("ofac-sdn", tmp_path)


# --- classic sdn.xml ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sdn_xml(fixtures: Path) -> CompiledList:
    return import_list("ofac-sdn", fixtures / "ofac_sdn_xml" / "sdn.xml")


def test_sdn_xml_metadata(sdn_xml: CompiledList) -> None:
    assert sdn_xml.meta.source_format == "ofac-sdn-xml"
    assert sdn_xml.meta.published == date(2024, 7, 2)
    assert sdn_xml.meta.entry_count == 14


def test_sdn_xml_gives_the_same_facts_as_the_csv(sdn_xml: CompiledList, sdn_csv: CompiledList) -> None:
    csv_entries = by_id(sdn_csv)
    for entry in sdn_xml.entries:
        same = csv_entries[entry.id]
        assert entry.name == same.name
        assert entry.type == same.type
        assert set(entry.countries) == set(same.countries)
        assert dict(entry.identifiers) == dict(same.identifiers), entry.id
        assert weak_aliases(entry) == weak_aliases(same), entry.id
        assert strong_aliases(entry) == strong_aliases(same), entry.id
        assert entry.birth_dates == same.birth_dates
        assert entry.flag == same.flag


def test_sdn_xml_record_count_must_match(fixtures: Path, tmp_path: Path) -> None:
    text = (fixtures / "ofac_sdn_xml" / "sdn.xml").read_text(encoding="utf-8")
    (tmp_path / "sdn.xml").write_text(text.replace("<Record_Count>14<", "<Record_Count>15<"), encoding="utf-8")
    with pytest.raises(ListImportError, match="Record_Count says 15 entries, the file holds 14"):
        import_list("ofac-sdn", tmp_path / "sdn.xml")


def test_sdn_xml_entry_without_name_is_refused(fixtures: Path, tmp_path: Path) -> None:
    text = (fixtures / "ofac_sdn_xml" / "sdn.xml").read_text(encoding="utf-8")
    broken = text.replace("<lastName>EBANO</lastName>", "", 1)
    (tmp_path / "sdn.xml").write_text(broken, encoding="utf-8")
    with pytest.raises(ListImportError, match=r"<sdnEntry> #2 \(uid=4243\): no <lastName>"):
        import_list("ofac-sdn", tmp_path)


# --- Enhanced XML -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cons(fixtures: Path) -> CompiledList:
    return import_list("ofac-cons", fixtures / "ofac_cons")


def test_enhanced_metadata(cons: CompiledList) -> None:
    assert cons.meta.name == "ofac-cons"
    assert cons.meta.source_format == "ofac-enhanced-xml"
    assert cons.meta.published == date(2025, 1, 10)
    assert cons.meta.entry_count == 15
    assert cons.meta.counts_by_type == {"organization": 11, "person": 4}


def test_enhanced_entity(cons: CompiledList) -> None:
    vtb = by_id(cons)["ofac-cons-17013"]
    assert vtb.name == "VTB BANK PUBLIC JOINT STOCK COMPANY"
    assert "БАНК ВТБ ПАО" in strong_aliases(vtb)  # a Cyrillic translation of an alias
    assert weak_aliases(vtb) == {"JSC VTB BANK NEW DELHI BRANCH"}
    assert vtb.identifiers[IdentifierKind.inn] == ["7702070139"]
    assert vtb.identifiers[IdentifierKind.ogrn] == ["1027739609391"]
    assert vtb.identifiers[IdentifierKind.okpo] == ["00032520"]
    assert vtb.identifiers[IdentifierKind.lei] == ["253400V1H6ART1UQ0N98"]
    assert vtb.countries[0] == "RU"
    assert vtb.listings[0].programs == ["UKRAINE-EO13662", "RUSSIA-EO14024"]
    assert vtb.listings[0].date == "2014-07-29"
    assert "SWIFT/BIC VTBRRUMM" in vtb.notes


def test_enhanced_person_and_relations(cons: CompiledList) -> None:
    entries = by_id(cons)
    person = entries["ofac-cons-9639"]
    assert person.type == EntryType.person
    assert person.name == "HANIYA, Ismail Abdul Salah"
    assert person.birth_dates == ["1962"]
    # relations are kept only towards entries of the same list
    assert entries["ofac-cons-18725"].related == ["ofac-cons-17013"]
    assert entries["ofac-cons-18301"].related == []


def test_enhanced_from_zip_and_as_sdn(fixtures: Path, tmp_path: Path, cons: CompiledList) -> None:
    with zipfile.ZipFile(tmp_path / "SDN_ENHANCED.ZIP", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(fixtures / "ofac_cons" / "CONS_ENHANCED.XML", "SDN_ENHANCED.XML")
    compiled = import_list("ofac-sdn", tmp_path)
    assert compiled.meta.name == "ofac-sdn"
    assert [e.id.removeprefix("ofac-sdn-") for e in compiled.entries] == \
        [e.id.removeprefix("ofac-cons-") for e in cons.entries]


def test_enhanced_zip_with_two_xml_files_is_refused(fixtures: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "CONS_ENHANCED.ZIP", "w") as archive:
        archive.write(fixtures / "ofac_cons" / "CONS_ENHANCED.XML", "A.XML")
        archive.write(fixtures / "ofac_cons" / "CONS_ENHANCED.XML", "B.XML")
    with pytest.raises(ListImportError, match=r"expected one \.xml file in the zip, found 2"):
        import_list("ofac-cons", tmp_path)


def test_enhanced_unknown_entity_type(fixtures: Path, tmp_path: Path) -> None:
    text = (fixtures / "ofac_cons" / "CONS_ENHANCED.XML").read_text(encoding="utf-8")
    broken = text.replace('<entityType refId="600">Individual</entityType>',
                          '<entityType refId="600">Spaceship</entityType>', 1)
    (tmp_path / "CONS_ENHANCED.XML").write_text(broken, encoding="utf-8")
    with pytest.raises(ListImportError, match=r"<entity> #1 \(id=9639\): unknown <entityType> 'spaceship'"):
        import_list("ofac-cons", tmp_path)


def test_other_xml_is_not_taken_for_an_ofac_list(fixtures: Path) -> None:
    with pytest.raises(ListImportError, match="CONSOLIDATED_LIST> is not an OFAC list document"):
        import_list("ofac-sdn", fixtures / "un" / "UN_consolidated.xml")


def test_folder_without_list_files(tmp_path: Path) -> None:
    with pytest.raises(ListImportError, match="no OFAC list file here"):
        import_list("ofac-sdn", tmp_path)
