"""Alerts from screenings: opened for non-clear results, never duplicated, updated (and reopened) when the
result changes, with history and audit entries saying what changed."""

from __future__ import annotations

from service.engine import Screener
from service.review import (
    AlertChange,
    AlertFilter,
    MatchDecision,
    Outcome,
    close,
    count_alerts,
    decide_match,
    get_alert,
    list_alerts,
    list_audit,
    record_screening,
    record_screenings,
    result_digest,
    start_review,
)
from service.store import Database, new_screening_id
from service.store.access import Principal
from tests.review.conftest import listed_counterparty, screen


def _record(database: Database, screener: Screener, data: dict[str, object]) -> AlertChange:
    return record_screening(database, screening_id=new_screening_id(), source="api", record=data,
                            result=screen(screener, data))


def test_flagged_screening_opens_an_alert_with_its_matches(database: Database, screener: Screener) -> None:
    assert _record(database, screener, listed_counterparty()) is AlertChange.opened
    (summary,) = list_alerts(database).items
    assert (summary.record_id, summary.state, summary.decision) == ("cp-1", "open", "block")
    assert summary.rules == ["listed-party-confident"]
    detail = get_alert(database, summary.id)
    assert [(m.rule, m.entry, m.field, m.decision) for m in detail.matches] == [
        ("listed-party-confident", "ru-vertikal-alabuga", "parties[0].name", None)]
    assert [e.action for e in detail.history] == ["opened"]
    assert [(a.action, a.object_id) for a in list_audit(database)] == [("alert.open", str(summary.id))]


def test_clear_screening_opens_nothing(database: Database, screener: Screener) -> None:
    data = listed_counterparty(name="Elektronik Vertrieb Nord GmbH", country="DE")
    assert _record(database, screener, data) is AlertChange.not_flagged
    assert list_alerts(database).items == []


def test_same_result_again_is_not_a_new_alert(database: Database, screener: Screener) -> None:
    _record(database, screener, listed_counterparty())
    assert _record(database, screener, listed_counterparty()) is AlertChange.unchanged
    assert count_alerts(database)["open"] == 1
    assert len(get_alert(database, list_alerts(database).items[0].id).history) == 1


def test_digest_ignores_the_time_of_screening(screener: Screener) -> None:
    first = screen(screener, listed_counterparty())
    later = first.model_copy(update={"screened_at": first.screened_at.replace(year=2030)})
    assert result_digest(first) == result_digest(later)


def test_changed_result_updates_the_alert_and_says_what_changed(database: Database, screener: Screener) -> None:
    _record(database, screener, listed_counterparty())
    changed = listed_counterparty(address="Alabuga special economic zone, Yelabuga, Tatarstan")
    assert _record(database, screener, changed) is AlertChange.updated
    (summary,) = list_alerts(database).items
    detail = get_alert(database, summary.id)
    assert detail.history[-1].action == "updated"
    assert detail.history[-1].detail["added"]
    assert detail.record is not None and detail.record["parties"][0]["address"].startswith("Alabuga")
    assert [a.action for a in list_audit(database)] == ["alert.open", "alert.update"]
    assert list_audit(database)[-1].after["changes"]["added"]  # type: ignore[index]


def _closed_as_hit(database: Database, screener: Screener, people: dict[str, object]) -> int:
    """The id of the alert of a listed counterparty, reviewed by rita: its match a true one, closed as a hit."""
    from service.review import User

    _record(database, screener, listed_counterparty())
    alert_id = list_alerts(database).items[0].id
    rita = people["rita"]
    assert isinstance(rita, User)
    match = get_alert(database, alert_id).matches[0]
    principal: Principal = rita.principal()
    start_review(database, alert_id, principal)
    decide_match(database, alert_id, match.id, MatchDecision.true_match, "same company", principal)
    close(database, alert_id, Outcome.confirmed_hit, "listed party", principal)
    return alert_id


def test_changed_result_reopens_a_closed_alert(database: Database, screener: Screener,
                                               people: dict[str, object]) -> None:
    alert_id = _closed_as_hit(database, screener, people)
    assert _record(database, screener, listed_counterparty()) is AlertChange.unchanged
    changed = listed_counterparty(address="Alabuga special economic zone, Yelabuga, Tatarstan")
    assert _record(database, screener, changed) is AlertChange.reopened
    detail = get_alert(database, alert_id)
    assert (detail.summary.state, detail.summary.outcome) == ("open", None)
    # the decided match that is still found keeps its decision
    assert [m.decision for m in detail.matches if m.rule == "listed-party-confident"] == ["true_match"]


def test_clear_result_updates_an_alert_under_review(database: Database, screener: Screener) -> None:
    """The matches went away (a list entry removed, the party corrected): the open alert says so."""
    _record(database, screener, listed_counterparty())
    now_clear = listed_counterparty(name="Elektronik Vertrieb Nord GmbH", country="DE")
    assert _record(database, screener, now_clear) is AlertChange.updated
    (summary,) = list_alerts(database).items
    assert (summary.state, summary.decision, summary.rules) == ("open", "clear", [])
    detail = get_alert(database, summary.id)
    assert detail.matches == []
    assert detail.history[-1].action == "updated" and detail.history[-1].detail["removed"]
    assert _record(database, screener, now_clear) is AlertChange.unchanged


def test_clear_result_leaves_a_closed_alert_as_it_was_closed(database: Database, screener: Screener,
                                                             people: dict[str, object]) -> None:
    alert_id = _closed_as_hit(database, screener, people)
    now_clear = listed_counterparty(name="Elektronik Vertrieb Nord GmbH", country="DE")
    assert _record(database, screener, now_clear) is AlertChange.not_flagged
    detail = get_alert(database, alert_id)
    assert (detail.summary.state, detail.summary.decision) == ("closed", "block")


def test_many_screenings_in_one_transaction(database: Database, screener: Screener) -> None:
    """The log writer records a whole group commit at once: new alerts together, a record seen twice in the
    group opened by its first screening and updated by its second, clear ones skipped."""
    rows = []
    for data in (listed_counterparty(), listed_counterparty(record_id="cp-2"),
                 listed_counterparty(record_id="cp-3", name="Elektronik Vertrieb Nord GmbH", country="DE"),
                 listed_counterparty(address="Alabuga special economic zone, Yelabuga, Tatarstan")):
        result = screen(screener, data)
        rows.append({"id": new_screening_id(), "source": "batch", "record_id": result.record_id,
                     "decision": result.decision.value, "record": data, "result": result.model_dump(mode="json")})
    assert record_screenings(database, rows) == [AlertChange.opened, AlertChange.opened, AlertChange.not_flagged,
                                                 AlertChange.updated]
    assert sorted(a.record_id for a in list_alerts(database).items) == ["cp-1", "cp-2"]
    cp1 = next(a for a in list_alerts(database).items if a.record_id == "cp-1")
    assert [e.action for e in get_alert(database, cp1.id).history] == ["opened", "updated"]
    assert [a.action for a in list_audit(database)].count("alert.open") == 2


def test_queue_filters_and_pages(database: Database, screener: Screener) -> None:
    for number in range(5):
        _record(database, screener, listed_counterparty(f"cp-{number}"))
    first = list_alerts(database, limit=2)
    assert [a.record_id for a in first.items] == ["cp-4", "cp-3"]
    second = list_alerts(database, limit=2, before_id=first.next_before_id)
    assert [a.record_id for a in second.items] == ["cp-2", "cp-1"]
    last = list_alerts(database, limit=2, before_id=second.next_before_id)
    assert [a.record_id for a in last.items] == ["cp-0"]
    assert last.next_before_id is None
    assert len(list_alerts(database, AlertFilter(rule="listed-party-confident")).items) == 5
    assert list_alerts(database, AlertFilter(rule="listed-party")).items == []
    assert list_alerts(database, AlertFilter(decision="review")).items == []
    assert len(list_alerts(database, AlertFilter(severity="critical", states=("open",))).items) in (0, 5)
    assert count_alerts(database) == {"open": 5, "in_review": 0, "escalated": 0, "closed": 0}
