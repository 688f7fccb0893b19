"""The bundled drone-supply-chain pack: loads, cites known sources, covers what the issue asks, cases pass."""

from __future__ import annotations

import pytest

from service.engine import Screener, run_cases
from service.rulepack import CURATED_LIST, Pack
from service.rulepack.load import alias_collisions
from tests.conftest import BUNDLED_PACK

CHPL_CODES = {
    "854231", "854232", "854233", "854239", "851762", "852691", "853221", "853224", "854800", "847150", "850440",
    "851769", "852589", "852910", "852990", "853669", "853690", "854110", "854121", "854129", "854130", "854149",
    "854151", "854159", "854160", "848210", "848220", "848230", "848250", "880730", "901310", "901380", "901420",
    "901480", "847180", "848610", "848620", "848640", "853400", "854320", "902750", "903020", "903032", "903039",
    "903082", "845710", "845811", "845891", "845961", "846693",
}


def test_pack_loads_with_a_digest(bundled_pack: Pack) -> None:
    assert bundled_pack.info.name == "drone-supply-chain"
    assert len(bundled_pack.info.digest) == 64


def test_all_50_chpl_codes(bundled_pack: Pack) -> None:
    codes = {c.code.replace(".", "") for g in bundled_pack.goods if g.category == "chpl" for c in g.hs_codes}
    assert codes >= CHPL_CODES


def test_caspian_ports_of_concern(bundled_pack: Pack) -> None:
    concern = {p.id for p in bundled_pack.ports if "caspian-concern" in p.tags}
    assert concern == {"port-amirabad", "port-bandar-anzali", "port-makhachkala", "port-astrakhan", "port-olya"}
    amirabad = next(p for p in bundled_pack.ports if p.id == "port-amirabad")
    assert "IRBAM" not in amirabad.locodes


def test_country_groups_cite_their_documents(bundled_pack: Pack) -> None:
    groups = bundled_pack.country_groups
    assert set(groups["embargoed"].countries) == {"RU", "BY", "IR"}
    assert "fincen-bis-alert-2022" in groups["diversion-fincen-bis-2022"].sources
    assert "tri-seal-note-2023" in groups["diversion-tri-seal-2023"].sources


def test_every_entry_names_a_known_source(bundled_pack: Pack) -> None:
    items = [*bundled_pack.party_lists[CURATED_LIST], *bundled_pack.goods, *bundled_pack.ports,
             *bundled_pack.country_groups.values(), *bundled_pack.address_markers.values(),
             *bundled_pack.term_sets.values(), *bundled_pack.rules]
    for item in items:
        assert item.sources, item.id
        assert set(item.sources) <= set(bundled_pack.sources), item.id


def test_no_entry_is_known_only_by_a_derived_spelling(bundled_pack: Pack) -> None:
    for party in bundled_pack.party_lists[CURATED_LIST]:
        assert party.verification != "D", party.id


def test_alias_collisions_are_reported_not_fatal(bundled_pack: Pack) -> None:
    assert isinstance(alias_collisions(bundled_pack), list)


def _cases() -> list[tuple[str, str]]:
    from service.rulepack import load_pack

    pack = load_pack(BUNDLED_PACK)
    return [(rule, case.name) for rule, spec in sorted(pack.cases.items()) for case in spec.cases]


@pytest.mark.parametrize(("rule", "case"), _cases())
def test_rule_case(screener: Screener, rule: str, case: str) -> None:
    (outcome,) = [o for o in run_cases(screener, {rule}) if o.case == case]
    assert outcome.passed, (
        f"{rule}: {case}: expected to {'fire' if outcome.expected_fire else 'not fire'}, "
        f"decision {outcome.decision} {outcome.reason}")


def test_every_rule_has_firing_and_quiet_cases(bundled_pack: Pack) -> None:
    for rule in bundled_pack.rules:
        fires = [c.fires for c in bundled_pack.cases[rule.id].cases]
        assert any(fires) and not all(fires), rule.id
