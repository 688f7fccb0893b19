"""The loader refuses invalid packs and names file, entry and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from service.errors import PackError
from service.rulepack import PartyList, load_pack
from service.rulepack.spec import PartySpec
from tests.factory import MATCH_RULE, write_pack, write_yaml

PARTY = {"id": "ru-test-co", "type": "organization", "name": "TEST COMPANY ALPHA", "countries": ["RU"]}


def problems_of(pack_dir: Path) -> list[str]:
    with pytest.raises(PackError) as info:
        load_pack(pack_dir)
    return [str(p) for p in info.value.problems]


def test_minimal_pack_loads(tmp_path: Path) -> None:
    pack = load_pack(write_pack(tmp_path, parties=[PARTY]))
    assert pack.info.name == "test-pack"
    assert len(pack.info.digest) == 64
    assert pack.counts["parties"] == 1


def test_digest_changes_with_content(tmp_path: Path) -> None:
    first = load_pack(write_pack(tmp_path / "a", parties=[PARTY])).info.digest
    second = load_pack(write_pack(tmp_path / "b", parties=[{**PARTY, "name": "TEST COMPANY BETA"}])).info.digest
    assert first != second


def test_digest_covers_the_imported_lists(tmp_path: Path) -> None:
    """The digest names "the pack that answered": another import of a list must read as another pack."""
    pack_dir = write_pack(tmp_path, parties=[PARTY])
    entry = PartySpec.model_validate({**PARTY, "id": "sdn-1", "sources": ["test-source"]})
    alone = load_pack(pack_dir).info.digest
    with_list = load_pack(pack_dir, [PartyList("sdn", [entry], digest="sha256:aa")]).info.digest
    reimported = load_pack(pack_dir, [PartyList("sdn", [entry], digest="sha256:bb")]).info.digest
    without_file_digest = load_pack(pack_dir, [PartyList("sdn", [entry])]).info.digest
    renamed_entry = load_pack(pack_dir, [PartyList("sdn", [entry.model_copy(update={"name": "OTHER"})])]).info.digest
    assert len({alone, with_list, reimported, without_file_digest, renamed_entry}) == 5
    assert load_pack(pack_dir).info.digest == alone
    assert load_pack(pack_dir, [PartyList("sdn", [entry], digest="sha256:aa")]).info.digest == with_list


def test_unknown_key_names_file_entry_and_field(tmp_path: Path) -> None:
    pack_dir = write_pack(tmp_path, parties=[{**PARTY, "alias": ["X"]}])
    assert problems_of(pack_dir) == ["lists/test.yaml: ru-test-co: alias: Extra inputs are not permitted"]


def test_bad_country_code(tmp_path: Path) -> None:
    pack_dir = write_pack(tmp_path, parties=[{**PARTY, "countries": ["Russia"]}])
    (problem,) = problems_of(pack_dir)
    assert problem.startswith("lists/test.yaml: ru-test-co: countries[0]: String should match pattern")


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    pack_dir = write_pack(tmp_path, parties=[PARTY])
    write_yaml(pack_dir / "lists" / "more.yaml", {"parties": [{**PARTY, "sources": ["test-source"]}]})
    assert problems_of(pack_dir) == ["lists/test.yaml: ru-test-co: id: duplicate id (also in lists/more.yaml)"]


def test_unknown_source(tmp_path: Path) -> None:
    pack_dir = write_pack(tmp_path, parties=[PARTY])
    write_yaml(pack_dir / "lists" / "test.yaml", {"parties": [{**PARTY, "sources": ["nowhere"]}]})
    assert problems_of(pack_dir) == [
        "lists/test.yaml: ru-test-co: sources: unknown source 'nowhere' (no seeds file)"]


def test_entry_without_source(tmp_path: Path) -> None:
    pack_dir = write_pack(tmp_path, parties=[PARTY])
    write_yaml(pack_dir / "lists" / "test.yaml", {"parties": [{**PARTY, "sources": []}]})
    (problem,) = problems_of(pack_dir)
    assert problem.startswith("lists/test.yaml: ru-test-co: sources: List should have at least 1 item")


def test_rule_id_must_equal_file_name(tmp_path: Path) -> None:
    pack_dir = write_pack(tmp_path, parties=[PARTY])
    (pack_dir / "rules" / "any-party-match.yaml").rename(pack_dir / "rules" / "other-name.yaml")
    (pack_dir / "rules" / "any-party-match.cases.yaml").rename(pack_dir / "rules" / "other-name.cases.yaml")
    assert "rules/other-name.yaml: any-party-match: id: must equal the file name 'other-name'" in problems_of(
        pack_dir)


def test_unknown_placeholder(tmp_path: Path) -> None:
    rule = {**MATCH_RULE, "reason": "{value} is {colour}"}
    pack_dir = write_pack(tmp_path, parties=[PARTY])
    write_yaml(pack_dir / "rules" / "any-party-match.yaml", rule)
    (problem,) = problems_of(pack_dir)
    assert problem.startswith("rules/any-party-match.yaml: any-party-match: reason: unknown placeholder {colour}")


def test_placeholder_not_provided_by_conditions(tmp_path: Path) -> None:
    rule = {**MATCH_RULE, "reason": "{value} goes to {country_name}"}
    pack_dir = write_pack(tmp_path, parties=[PARTY])
    write_yaml(pack_dir / "rules" / "any-party-match.yaml", rule)
    assert problems_of(pack_dir) == [
        "rules/any-party-match.yaml: any-party-match: reason: placeholder {country_name} is not provided "
        "by this rule's conditions"]


def test_unknown_condition_kind(tmp_path: Path) -> None:
    rule = {**MATCH_RULE, "when": {"kind": "horoscope"}}
    pack_dir = write_pack(tmp_path, parties=[PARTY])
    write_yaml(pack_dir / "rules" / "any-party-match.yaml", rule)
    (problem,) = problems_of(pack_dir)
    assert problem.startswith("rules/any-party-match.yaml: any-party-match: when: Input tag 'horoscope'")


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ({"kind": "country", "groups": ["nowhere"], "party_roles": ["consignee"]},
         "when.groups: unknown country group 'nowhere'"),
        ({"kind": "goods", "categories": ["spaceships"]}, "when.categories: no goods entry has category"),
        ({"kind": "address", "markers": ["atlantis"]}, "when.markers: unknown address marker 'atlantis'"),
        ({"kind": "party_match", "min_score": "certain"}, "when.min_score: unknown level 'certain'"),
        ({"kind": "all", "conditions": [{"kind": "place", "tags": ["moon"]}]},
         "when.conditions[0].tags: no port has tag 'moon'"),
        ({"kind": "party_name", "roles": ["consignee"], "term_sets": ["none"]},
         "when.term_sets: unknown term set 'none'"),
    ],
)
def test_references_must_resolve(tmp_path: Path, when: dict[str, Any], expected: str) -> None:
    rule = {**MATCH_RULE, "when": when, "reason": "flagged"}
    pack_dir = write_pack(tmp_path, parties=[PARTY])
    write_yaml(pack_dir / "rules" / "any-party-match.yaml", rule)
    assert any(expected in p for p in problems_of(pack_dir)), problems_of(pack_dir)


def test_rule_without_cases(tmp_path: Path) -> None:
    pack_dir = write_pack(tmp_path, parties=[PARTY])
    (pack_dir / "rules" / "any-party-match.cases.yaml").unlink()
    assert problems_of(pack_dir) == [
        "rules/any-party-match.cases.yaml: any-party-match: -: every rule needs a cases file beside it"]


def test_cases_need_both_kinds(tmp_path: Path) -> None:
    pack_dir = write_pack(tmp_path, parties=[PARTY])
    cases = yaml.safe_load((pack_dir / "rules" / "any-party-match.cases.yaml").read_text())
    for case in cases["cases"]:
        case["fires"] = True
    write_yaml(pack_dir / "rules" / "any-party-match.cases.yaml", cases)
    assert problems_of(pack_dir) == [
        "rules/any-party-match.cases.yaml: -: cases: needs at least one case that must not fire"]


def test_case_record_must_be_valid(tmp_path: Path) -> None:
    pack_dir = write_pack(tmp_path, parties=[PARTY])
    cases = yaml.safe_load((pack_dir / "rules" / "any-party-match.cases.yaml").read_text())
    cases["cases"][0]["record"]["parties"][0]["role"] = "boss"
    write_yaml(pack_dir / "rules" / "any-party-match.cases.yaml", cases)
    (problem,) = problems_of(pack_dir)
    assert problem.startswith("rules/any-party-match.cases.yaml: fires: cases[0].record.parties[0].role: Input")


def test_yaml_syntax_error_gives_line(tmp_path: Path) -> None:
    pack_dir = write_pack(tmp_path, parties=[PARTY])
    (pack_dir / "lists" / "broken.yaml").write_text("parties:\n  - id: x\n   name: [unclosed\n")
    (problem,) = problems_of(pack_dir)
    assert problem.startswith("lists/broken.yaml: -: -: invalid YAML: line")


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    pack_dir = write_pack(tmp_path, parties=[PARTY])
    (pack_dir / "lists" / "dup.yaml").write_text("parties: []\nparties: []\n")
    (problem,) = problems_of(pack_dir)
    assert "duplicate key 'parties'" in problem


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    pack_dir = write_pack(tmp_path, parties=[{**PARTY, "type": "ship"}, {**PARTY, "id": "x", "name": ""}])
    assert len(problems_of(pack_dir)) >= 2


def test_missing_pack_file(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == [f"pack.yaml: -: -: no pack.yaml in {tmp_path.resolve()}"]
