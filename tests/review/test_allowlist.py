"""Allow-list: a false positive decided once is suppressed (reported, not dropped) on later screenings, and
alerts again when the list entry's content, the party's data or the rule changes, or the entry expires."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.engine import Screener
from service.errors import RecordError
from service.model import Decision, ScreeningResult
from service.review import (
    AlertChange,
    apply_allow_list,
    close,
    decide_match,
    entries_for,
    get_alert,
    list_audit,
    record_screening,
)
from service.review.allowlist import revoke_allow_list_entry
from service.rulepack import Pack
from service.store import Database, new_screening_id
from tests.review.conftest import listed_counterparty, open_alert, screen

People = dict[str, Any]
LISTED = "ru-vertikal-alabuga"
RULE = "listed-party-confident"


def _allow(database: Database, screener: Screener, people: People, data: dict[str, Any] | None = None) -> int:
    """Decide the match of a listed counterparty a false positive with an allow-list entry; its id."""
    alert_id = open_alert(database, screener, data)
    rita = people["rita"].principal()
    match = get_alert(database, alert_id).matches[0]
    result = decide_match(database, alert_id, match.id, "false_positive", "our customer, another INN", rita,
                          allow_list=True, pack=screener.pack)
    assert result.allow_list_id is not None
    return result.allow_list_id


def _rescreen(database: Database, screener: Screener, data: dict[str, Any], pack: Pack | None = None,
              now: datetime | None = None) -> ScreeningResult:
    result = screen(screener, data)
    return apply_allow_list(result, pack or screener.pack, entries_for(database, result, now=now), data, now=now)


def _with_entry(pack: Pack, entry_id: str, **changes: Any) -> Pack:
    lists = {name: [e.model_copy(update=changes) if e.id == entry_id else e for e in entries]
             for name, entries in pack.party_lists.items()}
    return dataclasses.replace(pack, party_lists=lists)


def _with_rule(pack: Pack, rule_id: str, **changes: Any) -> Pack:
    return dataclasses.replace(pack, rules=[r.model_copy(update=changes) if r.id == rule_id else r
                                            for r in pack.rules])


def test_allow_listed_match_is_suppressed_not_dropped(database: Database, screener: Screener,
                                                      people: People) -> None:
    entry_id = _allow(database, screener, people)
    result = _rescreen(database, screener, listed_counterparty())
    assert result.decision is Decision.clear
    (flag,) = result.flags
    assert flag.suppressed and flag.rule == RULE
    assert [e.suppressed_by for e in flag.evidence] == [str(entry_id)]
    assert [a.action for a in list_audit(database, object_type="allow_list")] == ["allow_list.add"]


def test_suppressed_result_opens_no_alert_for_a_new_record_id(database: Database, screener: Screener,
                                                              people: People) -> None:
    _allow(database, screener, people)
    data = listed_counterparty("cp-2")
    result = _rescreen(database, screener, data)
    change = record_screening(database, screening_id=new_screening_id(), source="api", record=data, result=result)
    assert change is AlertChange.not_flagged


def test_only_a_false_positive_can_be_allow_listed(database: Database, screener: Screener,
                                                   people: People) -> None:
    alert_id = open_alert(database, screener)
    match = get_alert(database, alert_id).matches[0]
    with pytest.raises(RecordError):
        decide_match(database, alert_id, match.id, "true_match", "same", people["rita"].principal(),
                     allow_list=True, pack=screener.pack)


def test_realerts_when_the_list_entry_changes(database: Database, screener: Screener, people: People) -> None:
    _allow(database, screener, people)
    entry = screener.pack.entry(LISTED)
    assert entry is not None
    changed = _with_entry(screener.pack, LISTED, notes=entry.notes + " Designated again with new details.")
    result = _rescreen(database, screener, listed_counterparty(), pack=changed)
    assert result.decision is Decision.block
    assert not result.flags[0].suppressed


@pytest.mark.parametrize("party_change", [{"country": "KZ"}, {"identifiers": {"inn": "1646041237"}}])
def test_realerts_when_the_party_data_changes(database: Database, screener: Screener, people: People,
                                              party_change: dict[str, Any]) -> None:
    _allow(database, screener, people)
    result = _rescreen(database, screener, listed_counterparty(**party_change))
    assert result.decision is not Decision.clear
    assert not any(e.suppressed_by for f in result.flags for e in f.evidence)


def test_realerts_when_the_rule_changes(database: Database, screener: Screener, people: People) -> None:
    _allow(database, screener, people)
    changed = _with_rule(screener.pack, RULE, description="Tightened after review.")
    result = _rescreen(database, screener, listed_counterparty(), pack=changed)
    assert result.decision is Decision.block


def test_realerts_when_the_entry_expires(database: Database, screener: Screener, people: People) -> None:
    _allow(database, screener, people)
    inside = datetime.now(UTC) + timedelta(days=364)
    assert _rescreen(database, screener, listed_counterparty(), now=inside).decision is Decision.clear
    after = datetime.now(UTC) + timedelta(days=366)
    assert _rescreen(database, screener, listed_counterparty(), now=after).decision is Decision.block


def test_realerts_when_the_entry_is_revoked(database: Database, screener: Screener, people: People) -> None:
    entry_id = _allow(database, screener, people)
    revoke_allow_list_entry(database, entry_id, people["anna"].principal().actor, "customer sold to a listed firm")
    assert _rescreen(database, screener, listed_counterparty()).decision is Decision.block
    assert [a.action for a in list_audit(database, object_type="allow_list")] == ["allow_list.add",
                                                                                  "allow_list.revoke"]


def test_a_closed_alert_reopens_when_its_allow_list_entry_stops_applying(database: Database, screener: Screener,
                                                                         people: People) -> None:
    data = listed_counterparty()
    _allow(database, screener, people, data)
    alert_id = _alert_id(database)
    rita, anna = people["rita"].principal(), people["anna"].principal()
    assert get_alert(database, alert_id).summary.state == "in_review"  # deciding the match started it
    close(database, alert_id, "cleared", "not them", rita)
    from service.review import approve_clearance

    approve_clearance(database, alert_id, "agreed", anna)
    quiet = _rescreen(database, screener, data)
    assert record_screening(database, screening_id=new_screening_id(), source="api", record=data,
                            result=quiet) is AlertChange.not_flagged
    moved = listed_counterparty(country="KZ")
    loud = _rescreen(database, screener, moved)
    assert record_screening(database, screening_id=new_screening_id(), source="api", record=moved,
                            result=loud) is AlertChange.reopened
    assert get_alert(database, alert_id).summary.state == "open"


def _alert_id(database: Database) -> int:
    from service.review import list_alerts

    (summary,) = list_alerts(database).items
    return summary.id
