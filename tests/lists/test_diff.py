"""diff_lists: added, removed, changed (fields a match depends on) and updated (other fields) entries."""

from __future__ import annotations

from pathlib import Path

from service.lists import CompiledList, diff_lists, import_list
from service.model import IdentifierKind
from service.rulepack.spec import AliasQuality, AliasSpec, ListingSpec, PartySpec
from tests.lists.conftest import by_id


def test_identical_lists(sdn_csv: CompiledList) -> None:
    diff = diff_lists(sdn_csv, sdn_csv)
    assert diff.is_empty
    assert diff.unchanged == 32
    assert diff.affected_ids() == set()


def test_added_removed_changed_updated(sdn_csv: CompiledList) -> None:
    entries = by_id(sdn_csv)
    new = [e for e in sdn_csv.entries if e.id not in ("ofac-sdn-36", "ofac-sdn-173")]
    added = PartySpec(id="ofac-sdn-99999", type="organization", name="NEW DRONE PARTS LLC", sources=["ofac-sdn"])
    new.append(added)
    changes = {
        # matching fields
        "ofac-sdn-306": entries["ofac-sdn-306"].model_copy(update={"aliases": ["NATIONAL BANK OF CUBA", "BNC"]}),
        "ofac-sdn-4243": entries["ofac-sdn-4243"].model_copy(
            update={"identifiers": {IdentifierKind.imo: ["7406785"]}}),
        "ofac-sdn-45710": entries["ofac-sdn-45710"].model_copy(update={"countries": ["RU", "BY"]}),
        "ofac-sdn-16418": entries["ofac-sdn-16418"].model_copy(update={"name": "QODS AVIATION INDUSTRIES CO"}),
        # other fields only
        "ofac-sdn-7831": entries["ofac-sdn-7831"].model_copy(
            update={"listings": [ListingSpec(authority="OFAC", programs=["SDGT", "IRGC"], reference="7831")]}),
        "ofac-sdn-2676": entries["ofac-sdn-2676"].model_copy(update={"notes": "changed remarks"}),
    }
    new = [changes.get(e.id, e) for e in new]
    diff = diff_lists(sdn_csv, new)

    assert [e.id for e in diff.added] == ["ofac-sdn-99999"]
    assert sorted(e.id for e in diff.removed) == ["ofac-sdn-173", "ofac-sdn-36"]
    changed = {c.id: c for c in diff.changed}
    assert set(changed) == {"ofac-sdn-306", "ofac-sdn-4243", "ofac-sdn-45710", "ofac-sdn-16418"}
    assert changed["ofac-sdn-306"].fields == ("aliases",)
    # "BNC" went from a weak alias to a strong one: the same text, a different alias
    assert changed["ofac-sdn-306"].details == ("aliases: +[BNC strong] -[BNC weak]",)
    assert changed["ofac-sdn-4243"].details == ("identifiers: +[imo 7406785] -[imo 7406784]",)
    assert changed["ofac-sdn-45710"].details == ("countries: +[BY]",)
    assert changed["ofac-sdn-16418"].details == \
        ("name: 'QODS AVIATION INDUSTRIES' -> 'QODS AVIATION INDUSTRIES CO'",)
    updated = {c.id: c for c in diff.updated}
    assert set(updated) == {"ofac-sdn-7831", "ofac-sdn-2676"}
    assert not any(c.affects_matching for c in diff.updated)
    assert updated["ofac-sdn-2676"].details == ("notes changed",)
    assert diff.unchanged == 32 - 2 - 6
    assert diff.affected_ids() == {"ofac-sdn-99999", "ofac-sdn-173", "ofac-sdn-36", *changed}
    rescreen = diff.entries_to_rescreen()
    assert sum(1 for e in rescreen if e.id == "ofac-sdn-306") == 2  # old and new versions
    assert len(rescreen) == 1 + 2 + 2 * 4


def test_order_of_list_items_is_not_a_change(sdn_csv: CompiledList) -> None:
    entry = by_id(sdn_csv)["ofac-sdn-306"]
    reordered = entry.model_copy(update={"aliases": list(reversed(entry.aliases)),
                                         "countries": list(reversed(entry.countries))})
    diff = diff_lists([entry], [reordered])
    assert diff.is_empty and diff.unchanged == 1


def test_weak_alias_becoming_strong_is_a_change() -> None:
    old = PartySpec(id="x-1", type="organization", name="A", aliases=[AliasSpec(name="B", quality=AliasQuality.weak)],
                    sources=["test"])
    new = old.model_copy(update={"aliases": ["B"]})
    assert [c.fields for c in diff_lists([old], [new]).changed] == [("aliases",)]


def test_diff_between_two_publications(fixtures: Path) -> None:
    # the ConList (April 2025) against the UK Sanctions List tables (May 2026): same ids, some changed
    old = import_list("uk", fixtures / "uk_conlist")
    new = import_list("uk", fixtures / "uk_tables")
    diff = diff_lists(old, new)
    assert diff.old == old.meta and diff.new == new.meta
    assert {e.id for e in diff.added} == {"uk-afg0001", "uk-afg0012", "uk-bel0107", "uk-dpr0075",
                                           "uk-rus2190"}
    assert "uk-ofsi-15878" in {e.id for e in diff.removed}
    assert "uk-rus2080" in {c.id for c in [*diff.changed, *diff.updated]}
