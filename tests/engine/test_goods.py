from __future__ import annotations

import pytest

from service.engine.goods import GoodsIndex, stem, words_agree
from service.model import Goods
from service.rulepack.spec import GoodsSpec

ENTRIES = [
    GoodsSpec(id="chpl-854231", title="Processors and controllers", category="chpl", tags=["chpl-tier-1"],
              hs_codes=[{"code": "8542.31"}], sources=["src"]),
    GoodsSpec(id="chpl-8807-30", title="Parts of aircraft", category="chpl", hs_codes=[{"code": "8807.30"}],
              sources=["src"]),
    GoodsSpec(id="eu-radar", title="Radars for UAVs", category="uav-component",
              hs_codes=[{"code": "8526.10", "partial": True}], keywords=["radar"], sources=["src"]),
    GoodsSpec(id="kw-fpga", title="FPGAs and microcontrollers", category="uav-component",
              keywords=["FPGA", "field programmable gate array", "microcontroller", "MCU", "микроконтроллер"],
              part_numbers=[r"XC7A\d+T.*", r"STM32F\d{3}.*"], sources=["src"]),
    GoodsSpec(id="mil-shahed-136", title="Shahed-136 / Geran-2", category="military",
              keywords=["Shahed-136", "Geran-2", "Герань-2"], exclude=["scale model", "toy"], sources=["src"]),
    GoodsSpec(id="mil-yak-130", title="Yak-130", category="military", keywords=["Yak-130"], sources=["src"]),
    GoodsSpec(id="mil-fath-360", title="Fath-360", category="military", keywords=["Fath-360", "Fateh-360"],
              sources=["src"]),
]


@pytest.fixture(scope="module")
def index() -> GoodsIndex:
    return GoodsIndex(ENTRIES)


def ids(hits: list) -> set[str]:  # type: ignore[type-arg]
    return {h.entry.id for h in hits}


@pytest.mark.parametrize("code", ["8542.31", "854231", "8542 31 00", "8542.31.0001", "8542310000"])
def test_hs_code_in_any_format(index: GoodsIndex, code: str) -> None:
    (hit,) = index.match_goods(Goods(hs_code=code), 0)
    assert hit.entry.id == "chpl-854231"
    assert hit.field == "goods[0].hs_code"
    assert hit.method == "hs-prefix-6"


def test_coarser_code_does_not_match(index: GoodsIndex) -> None:
    assert index.match_goods(Goods(hs_code="8542"), 0) == []


def test_other_subheading_does_not_match(index: GoodsIndex) -> None:
    assert index.match_goods(Goods(hs_code="8542.90"), 0) == []


def test_partial_code_needs_corroboration(index: GoodsIndex) -> None:
    (alone,) = index.match_goods(Goods(hs_code="8526.10", description="marine echo sounder"), 0)
    assert not alone.confirmed
    hits = index.match_goods(Goods(hs_code="8526.10.00", description="radar module for UAV"), 2)
    confirmed = [h for h in hits if h.field == "goods[2].hs_code"]
    assert confirmed and confirmed[0].confirmed and confirmed[0].method == "hs-prefix-6-corroborated"


@pytest.mark.parametrize(
    ("description", "entry"),
    [
        ("FPGA, Artix-7 family", "kw-fpga"),
        ("FPGAs", "kw-fpga"),
        ("Field-Programmable Gate Arrays", "kw-fpga"),
        ("32-bit microcontrollers", "kw-fpga"),
        ("micro-controller", None),
        ("microcontrolers, ARM", "kw-fpga"),
        ("микроконтроллеры STM32", "kw-fpga"),
        ("spare parts for Shahed136", "mil-shahed-136"),
        ("М214 Герань-2 запчасти", "mil-shahed-136"),
        ("Geran 2 wing", "mil-shahed-136"),
        ("قطعات فاتح-۳۶۰", "mil-fath-360"),
        ("yak wool yarn 130 g", None),
        ("plastic scale model kit of a Shahed-136", None),
        ("MCU board", "kw-fpga"),
        ("MCUs", "kw-fpga"),
    ],
)
def test_keywords(index: GoodsIndex, description: str, entry: str | None) -> None:
    found = ids(index.match_text(description, "goods[0].description"))
    assert found == ({entry} if entry else set())


def test_part_numbers_match_whole(index: GoodsIndex) -> None:
    assert ids(index.match_goods(Goods(part_number="XC7A35T-1CSG324C"), 0)) == {"kw-fpga"}
    assert ids(index.match_goods(Goods(part_number="stm32f405rgt6"), 0)) == {"kw-fpga"}
    assert index.match_goods(Goods(part_number="ABC-XC7A35T"), 0) == []


def test_stem() -> None:
    assert stem("bearings") == "bearing"
    assert stem("assemblies") == "assembly"
    assert stem("gas") == "gas"
    assert stem("glass") == "glass"


def test_words_agree_on_endings_and_typos_only_for_long_words() -> None:
    assert words_agree("mikrokontroller", "mikrokontrollery", arabic=False)
    assert not words_agree("boring", "bearing", arabic=False)
    assert not words_agree("yak", "yaks", arabic=False)
