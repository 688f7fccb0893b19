"""UN Security Council Consolidated List XML."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from service.errors import ListImportError
from service.lists import CompiledList, import_list
from service.model import IdentifierKind
from service.rulepack.spec import AliasQuality, AliasSpec, EntryType
from tests.lists.conftest import by_id


@pytest.fixture(scope="module")
def un(fixtures: Path) -> CompiledList:
    return import_list("un", fixtures / "un")


def test_metadata(un: CompiledList) -> None:
    assert un.meta.name == "un-consolidated"
    assert un.meta.published == date(2026, 2, 27)  # dateGenerated
    assert un.meta.counts_by_type == {"organization": 8, "person": 11}


def test_individual(un: CompiledList) -> None:
    person = by_id(un)["un-cdi-003"]
    assert person.type == EntryType.person
    assert person.name == "GASTON IYAMUREMYE"
    assert person.listings[0].authority == "UN"
    assert person.listings[0].programs == ["DRC"]
    assert person.listings[0].reference == "CDi.003"
    assert person.listings[0].date == "2010-12-01"
    assert [a.name for a in person.aliases if isinstance(a, AliasSpec) and a.quality == AliasQuality.weak] == \
        ["Rumuli"]
    assert person.birth_dates == ["1948"]
    assert set(person.countries) == {"RW", "CD"}


def test_documents(un: CompiledList) -> None:
    entries = by_id(un)
    assert entries["un-cdi-019"].identifiers == {IdentifierKind.national_id: ["1-78-09-44621-80"]}
    passports = [e for e in un.entries if IdentifierKind.passport in e.identifiers]
    assert passports


def test_entity(un: CompiledList) -> None:
    adf = by_id(un)["un-cde-001"]
    assert adf.type == EntryType.organization
    assert adf.name == "ADF"
    assert {"Allied Democratic Forces", "NALU", "ADF/NALU"} <= set(adf.aliases)
    assert adf.countries == ["CD"]


def test_record_without_reference_number(fixtures: Path, tmp_path: Path) -> None:
    text = (fixtures / "un" / "UN_consolidated.xml").read_text(encoding="utf-8")
    broken = text.replace("<REFERENCE_NUMBER>CDi.002</REFERENCE_NUMBER>", "<REFERENCE_NUMBER/>")
    (tmp_path / "UN_consolidated.xml").write_text(broken, encoding="utf-8")
    with pytest.raises(ListImportError, match=r"<INDIVIDUAL> #2 \(DATAID=6907994\): no <REFERENCE_NUMBER>"):
        import_list("un", tmp_path)


def test_wrong_document(fixtures: Path) -> None:
    with pytest.raises(ListImportError, match="expected a <CONSOLIDATED_LIST> document, found <export>"):
        import_list("un", fixtures / "eu")
