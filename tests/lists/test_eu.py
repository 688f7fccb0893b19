"""EU Financial Sanctions Files XML (fixture written by hand in the published layout)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from service.errors import ListImportError
from service.lists import CompiledList, import_list
from service.model import IdentifierKind
from service.rulepack.spec import AliasQuality, AliasSpec, EntryType
from tests.lists.conftest import by_id

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<export xmlns="http://eu.europa.ec/fpi/fsd/export" generationDate="2026-01-02T10:00:00.000+01:00">\n')


@pytest.fixture(scope="module")
def eu(fixtures: Path) -> CompiledList:
    return import_list("eu", fixtures / "eu")


def test_metadata(eu: CompiledList) -> None:
    assert eu.meta.name == "eu-fsf"
    assert eu.meta.published == date(2026, 5, 12)
    assert eu.meta.entry_count == 15
    assert eu.meta.counts_by_type == {"organization": 9, "person": 6}


def test_person(eu: CompiledList) -> None:
    person = by_id(eu)["eu-202"]
    assert person.type == EntryType.person
    assert person.name == "Timur Nailevich Shagivaleev"
    assert "Тимур Наилевич Шагивалеев" in person.aliases
    assert person.birth_dates == ["1978-01-28"]
    assert person.identifiers == {IdentifierKind.passport: ["753129173"],
                                  IdentifierKind.national_id: ["9201745357"]}
    assert person.listings[0].authority == "EU"
    assert person.listings[0].reference == "EU.9214.61"
    assert person.listings[0].date == "2024-02-23"


def test_weak_aliases(eu: CompiledList) -> None:
    entries = by_id(eu)

    def weak(entry_id: str) -> set[str]:
        return {a.name for a in entries[entry_id].aliases
                if isinstance(a, AliasSpec) and a.quality == AliasQuality.weak}

    assert weak("eu-302") == {"HESA"}  # strong="false"
    assert weak("eu-103") == {"Rumuli"}  # a remark calling it low quality


def test_russian_numbers_and_imo(eu: CompiledList) -> None:
    entries = by_id(eu)
    assert entries["eu-201"].identifiers == {IdentifierKind.inn: ["1646019914"],
                                             IdentifierKind.ogrn: ["1061674037259"]}
    assert entries["eu-501"].identifiers == {IdentifierKind.imo: ["7303803"]}
    assert "SWIFT BIC VTBRRUMM" in entries["eu-401"].notes  # not an identifier the engine matches
    assert "web: https://alabuga.ru" in entries["eu-201"].notes


def test_programmes_and_dates(eu: CompiledList) -> None:
    hesa = by_id(eu)["eu-302"]
    assert hesa.listings[0].programs == ["UKR", "IRN"]
    assert hesa.listings[0].date == "2022-10-20"
    badege = by_id(eu)["eu-101"]
    assert badege.birth_dates == ["1971"]
    assert badege.countries == ["CD", "RW"]


def test_outdated_and_unknown_country_codes(tmp_path: Path) -> None:
    (tmp_path / "eu.xml").write_text(HEAD + """
  <sanctionEntity logicalId="7" euReferenceNumber="EU.1.1">
    <subjectType code="person" classificationCode="P"/>
    <nameAlias wholeName="Example Person" strong="true" logicalId="1"/>
    <citizenship countryIso2Code="CS" countryDescription="SERBIA AND MONTENEGRO" logicalId="2"/>
    <address city="" countryIso2Code="00" countryDescription="UNKNOWN" logicalId="3"/>
  </sanctionEntity>
</export>""", encoding="utf-8")
    compiled = import_list("eu", tmp_path)
    assert compiled.entries[0].countries == ["RS"]
    assert compiled.meta.unresolved_countries == {}


def test_missing_subject_type_names_the_entity(tmp_path: Path) -> None:
    (tmp_path / "eu.xml").write_text(HEAD + """
  <sanctionEntity logicalId="7" euReferenceNumber="EU.1.1">
    <subjectType code="person"/>
    <nameAlias wholeName="First" strong="true"/>
  </sanctionEntity>
  <sanctionEntity logicalId="8" euReferenceNumber="EU.1.2">
    <nameAlias wholeName="Second" strong="true"/>
  </sanctionEntity>
</export>""", encoding="utf-8")
    with pytest.raises(ListImportError, match=r"<sanctionEntity> #2 \(logicalId=8, euReferenceNumber=EU.1.2\): "
                                              r"<subjectType> code '' is neither"):
        import_list("eu", tmp_path)


def test_entity_without_names(tmp_path: Path) -> None:
    (tmp_path / "eu.xml").write_text(HEAD + """
  <sanctionEntity logicalId="9"><subjectType code="enterprise"/></sanctionEntity>
</export>""", encoding="utf-8")
    with pytest.raises(ListImportError, match=r"\(logicalId=9\): no <nameAlias> with a name"):
        import_list("eu", tmp_path)
