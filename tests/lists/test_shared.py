"""The real published files in ../shared/data/lists import with the sources' own entry counts.

Skipped when ../shared is absent. Counts are those the publications (and ../shared/data/lists/README.md)
give: one entry per SDN ent_num, per CSL record, per UN record, per OFSI Group ID, per UK subject.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from service.lists import CompiledList, import_list, load_compiled_list, save_compiled_list

pytestmark = [pytest.mark.shared, pytest.mark.slow]

CASES = [
    # source, path under data/lists, entries, entries by type, records merged or skipped
    ("ofac-sdn", "ofac_sdn", 15_443, {"organization": 7_270 + 374, "person": 6_927, "vessel": 872}),
    ("ofac-sdn", "ofac_sdn_2021-07", 8_976, {"organization": 3_673 + 277, "person": 4_620, "vessel": 406}),
    ("ofac-cons", "ofac_consolidated_non_sdn/CONS_ENHANCED.ZIP", 443, {"organization": 363, "person": 80}),
    # 14,160 records; one CAP record appears twice word for word and becomes one entry
    ("us-csl", "us_csl/consolidated.csv.gz", 14_159, {"organization": 4_533 + 283 + 3_625 - 1, "person": 5_286,
                                                      "vessel": 433}),
    ("un", "un/UN_consolidated.xml", 1_003, {"organization": 273, "person": 730}),
    ("uk", "uk/ofsi_conlist_2025-04/UK_Sanctions_List.xlsx", 4_686,
     {"organization": 1_009, "person": 3_662, "vessel": 15}),
    ("uk", "uk/uk_sanctions_list_2026-05_transformed", 6_046,
     {"organization": 1_531, "person": 3_883, "vessel": 632}),
]


@pytest.fixture(scope="module")
def lists_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "lists"


@pytest.fixture(scope="module")
def imported(lists_dir: Path) -> Callable[[str, str], CompiledList]:
    """Import each real file once per module (the big ones take seconds)."""
    cache: dict[tuple[str, str], CompiledList] = {}

    def get(source: str, relative: str) -> CompiledList:
        if (source, relative) not in cache:
            cache[source, relative] = import_list(source, lists_dir / relative)
        return cache[source, relative]

    return get


@pytest.mark.parametrize(("source", "relative", "count", "by_type"), CASES,
                         ids=[f"{case[0]}:{case[1].split('/')[0]}" for case in CASES])
def test_real_list_imports_with_its_own_count(imported: Callable[[str, str], CompiledList], tmp_path: Path,
                                              source: str, relative: str, count: int,
                                              by_type: dict[str, int]) -> None:
    compiled = imported(source, relative)
    assert compiled.meta.entry_count == count
    assert compiled.meta.counts_by_type == by_type
    assert len({entry.id for entry in compiled.entries}) == count
    loaded = load_compiled_list(save_compiled_list(compiled, tmp_path))
    assert loaded.entries == compiled.entries


def test_csl_record_count(imported: Callable[[str, str], CompiledList]) -> None:
    compiled = imported("us-csl", "us_csl/consolidated.csv.gz")
    records = compiled.meta.entry_count + compiled.meta.skipped["repeated records merged into one entry"]
    assert records == 14_160


def test_sdn_facts(imported: Callable[[str, str], CompiledList]) -> None:
    compiled = imported("ofac-sdn", "ofac_sdn")
    entries = {entry.id: entry for entry in compiled.entries}
    assert entries["ofac-sdn-45708"].name == \
        "JOINT STOCK COMPANY SPECIAL ECONOMIC ZONE OF INDUSTRIAL PRODUCTION ALABUGA"
    with_imo = [e for e in compiled.entries if e.type == "vessel" and "imo" in e.identifiers]
    assert len(with_imo) > 800  # nearly every listed vessel carries its IMO number
    assert compiled.meta.skipped == {"add.csv rows of entries not in sdn.csv": 1_808,
                                     "alt.csv rows of entries not in sdn.csv": 1_088}
