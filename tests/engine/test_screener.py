"""End-to-end behaviour of the engine on the bundled pack: decisions, evidence, reasons and sources."""

from __future__ import annotations

import json

import pytest

from service.engine import Screener
from service.model import Decision, ScreeningResult
from tests.factory import counterparty, record


def evidence(result: ScreeningResult) -> list[tuple[str, str | None, str]]:
    return [(e.field, e.entry, f.rule) for f in result.flags for e in f.evidence]


def rules(result: ScreeningResult) -> set[str]:
    return {f.rule for f in result.flags}


def test_identifier_wins_under_an_unrelated_name(screener: Screener) -> None:
    result = screener.screen(record(parties=[
        {"role": "seller", "name": "Hanse Components GmbH", "country": "DE"},
        {"role": "consignee", "name": "ОАО «Медведев-Дементьев»", "country": "RU",
         "identifiers": {"inn": "1646043699"}},
    ]))
    assert result.decision is Decision.block
    assert ("parties[1].identifiers.inn", "ru-alabuga-development", "listed-party-identifier") in evidence(result)


def test_cyrillic_name_with_legal_form_blocks(screener: Screener) -> None:
    result = screener.screen(counterparty("ООО «Альбатрос»", "Россия"))
    assert result.decision is Decision.block
    flag = result.flags[0]
    assert flag.rule == "listed-party-confident"
    assert flag.evidence[0].entry == "ru-albatros"
    assert "ru-albatros" in flag.reason and "parties[0].name" in flag.reason
    assert flag.sources and all(source in screener.pack.sources for source in flag.sources)


def test_contradicting_country_turns_block_into_review(screener: Screener) -> None:
    result = screener.screen(counterparty("MOJ GOSTAR ASEMAN PARVAZ COMPANY", "TR"))
    assert result.decision is Decision.review
    assert rules(result) == {"listed-party-country-mismatch"}


def test_scores_rank_exact_above_variants(screener: Screener) -> None:
    def best(name: str) -> float:
        result = screener.screen(counterparty(name))
        return max((e.score for f in result.flags for e in f.evidence if e.entry == "ir-sahara-thunder"),
                   default=0.0)

    exact, typo, reordered = best("SAHARA THUNDER"), best("SAHARA THUNDR"), best("THUNDER SAHARA")
    assert exact == 1.0
    assert 0.9 <= typo < exact
    assert 0.9 <= reordered < exact


def test_renamed_vessel_found_by_imo(screener: Screener) -> None:
    result = screener.screen(record(vessels=[{"name": "SEA GLORY", "imo": "9481881"}]))
    assert result.decision is Decision.block
    assert ("vessels[0].imo", "vessel-port-olya-2", "listed-vessel") in evidence(result)


def test_vessel_name_with_another_imo_is_not_the_listed_ship(screener: Screener) -> None:
    result = screener.screen(record(vessels=[{"name": "SONA", "imo": "9876543", "flag": "NL"}]))
    assert result.decision is Decision.clear


@pytest.mark.parametrize("code", ["8542.31", "854231", "8542 31 00", "8542.31.0001", "8542310000"])
def test_chpl_goods_to_russia_block_in_any_hs_format(screener: Screener, code: str) -> None:
    result = screener.screen(record(
        parties=[{"role": "seller", "name": "Hanse Components GmbH", "country": "DE"},
                 {"role": "consignee", "name": "OOO Volga Trade", "country": "RUSSIA"}],
        goods=[{"description": "electronic components", "hs_code": code}]))
    assert result.decision is Decision.block
    fields = {e.field for f in result.flags for e in f.evidence}
    assert {"goods[0].hs_code", "parties[1].country"} <= fields


def test_military_item_in_persian_script(screener: Screener) -> None:
    result = screener.screen(record(goods=[{"description": "قطعات فاتح-۳۶۰"}]))
    assert result.decision is Decision.block
    assert rules(result) == {"military-item"}


def test_caspian_route_by_locode_only(screener: Screener) -> None:
    result = screener.screen(record(
        goods=[{"description": "wheat", "hs_code": "1001.99"}],
        route=[{"role": "port_of_loading", "locode": "KZAAU"}, {"role": "port_of_discharge", "locode": "RU MCX"}]))
    assert result.decision is Decision.review
    assert ("route[1].locode", "port-makhachkala", "caspian-port-route") in evidence(result)


def test_alabuga_address_blocks_an_unlisted_company(screener: Screener) -> None:
    result = screener.screen(record(parties=[
        {"role": "seller", "name": "ЗАО «Журавлев Воронов»", "country": "RU",
         "address": "423601, Республика Татарстан, Елабужский р-н, тер. ОЭЗ «Алабуга», ул. Ш-2, зд. 2/5"},
        {"role": "consignee", "name": "Summit Commerce MChJ", "country": "Узбекистан"}]))
    assert result.decision is Decision.block
    assert ("parties[0].address", "alabuga-sez", "alabuga-address") in evidence(result)


def test_clean_shipment_is_clear_with_a_low_score(screener: Screener) -> None:
    result = screener.screen(record(
        parties=[{"role": "seller", "name": "Novaes Costela S.A.", "country": "BRA"},
                 {"role": "consignee", "name": "OOO Sobolev Savina", "country": "Russian Federation"}],
        goods=[{"description": "plastic garden furniture", "hs_code": "940370"}]))
    assert result.decision is Decision.clear
    assert result.flags == []
    assert result.risk_score < 20


def test_block_outranks_review(screener: Screener) -> None:
    blocked = screener.screen(counterparty("SAHARA THUNDER", "IR"))
    reviewed = screener.screen(counterparty("MOJ GOSTAR ASEMAN PARVAZ COMPANY", "TR"))
    assert blocked.risk_score > reviewed.risk_score > 19


def test_every_flag_explains_itself(screener: Screener) -> None:
    result = screener.screen(record(
        parties=[{"role": "seller", "name": "Elektronik Vertrieb Nord GmbH", "country": "DE"},
                 {"role": "consignee", "name": "Vertikal Alabuga LLC", "country": "RU",
                  "address": "ul. Sh-2, 4/1, OEZ Alabuga, Yelabuga 423600"},
                 {"role": "payer", "name": "Blue Lagoon Holdings Ltd", "country": "SC"}],
        goods=[{"description": "FPGA", "hs_code": "8542.39", "part_number": "XC7A35T-1CSG324C"}],
        route=[{"role": "transit", "place": "Astrakhan", "country": "RU"}]))
    assert result.decision is Decision.block
    assert {"alabuga-address", "listed-party-confident", "priority-goods-to-embargoed"} <= rules(result)
    for flag in result.flags:
        assert flag.reason and "{" not in flag.reason and "n/a" not in flag.reason
        assert flag.evidence and flag.sources
        for item in flag.evidence:
            assert item.field and item.value and 0 <= item.score <= 1 and item.method
    assert json.loads(result.model_dump_json())["pack"]["digest"] == screener.pack.info.digest


def test_a_screener_let_go_is_freed_without_the_garbage_collector() -> None:
    """A pack reload drops the old screener while the server runs with full collections rare (see
    service/api/app.py): it must hold no reference cycle, or its indexes would stay until a full collection
    (and refreezing would need one, a pause of most of a second with the official lists loaded)."""
    import gc
    import weakref

    from service.rulepack import load_pack
    from service.settings import BUNDLED_PACK

    gc.collect()
    gc.disable()
    try:
        built = Screener(load_pack(BUNDLED_PACK))
        result = built.screen(counterparty("Alabuga Special Economic Zone", "RU"))
        assert result.flags  # the rules ran (and filled the caches)
        freed = {"screener": weakref.ref(built), "pack": weakref.ref(built.pack),
                 "names": weakref.ref(built.party_names)}
        del built
        assert {name: ref() is None for name, ref in freed.items()} == dict.fromkeys(freed, True)
    finally:
        gc.enable()
