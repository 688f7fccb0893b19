"""Every page and form of the UI against the real service layer: queue filters and paging, the alert page's
comparison, decisions, four eyes, assignment, escalation, bulk actions, the allow-list and the dashboard, and
refusal of forms without this session's CSRF token."""

from __future__ import annotations

import re

from service.review import get_alert, list_allow_list
from tests.review.conftest import listed_counterparty
from tests.review.web.conftest import Ui, csrf_of

REVIEW_RECORD = {"id": "ship-2211", "parties": [{"role": "seller", "name": "Caspian Marine Supply LLC",
                                                  "country": "AE"}],
                 "goods": [{"description": "marine diesel engine spare parts", "hs_code": "8409.99"}],
                 "route": [{"role": "port_of_loading", "place": "Amirabad", "country": "IR"},
                           {"role": "port_of_discharge", "place": "Makhachkala", "country": "RU"}]}


def record_ids(html: str) -> list[str]:
    return re.findall(r'<a href="/ui/alerts/\d+">([^<#]+)</a>', html)


def test_queue_filters_by_decision_rule_severity_and_assignee(ui: Ui) -> None:
    blocked = ui.open_alert(listed_counterparty("cp-1"))
    ui.open_alert(REVIEW_RECORD)
    client = ui.as_("rita")
    assert record_ids(client.get("/ui/queue").text) == ["ship-2211", "cp-1"]
    assert record_ids(client.get("/ui/queue?decision=block").text) == ["cp-1"]
    assert record_ids(client.get("/ui/queue?rule=caspian-port-route").text) == ["ship-2211"]
    assert record_ids(client.get("/ui/queue?severity=critical").text) == ["cp-1"]
    assert record_ids(client.get("/ui/queue?age=30d%2B").text) == []
    assert record_ids(client.get("/ui/queue?age=1d").text) == ["ship-2211", "cp-1"]
    assert record_ids(client.get("/ui/queue?assignee=me").text) == []
    response = ui.post_form("rita", f"/ui/alerts/{blocked}", f"/ui/alerts/{blocked}/assign", {"assignee": "rita"})
    assert response.status_code == 303
    assert record_ids(client.get("/ui/queue?assignee=me").text) == ["cp-1"]
    assert record_ids(client.get("/ui/queue?assignee=none").text) == ["ship-2211"]
    # Unknown filter values are ignored rather than failing the page.
    assert client.get("/ui/queue?decision=maybe&rule=%3Cscript%3E&state=nope").status_code == 200


def test_queue_counts_by_state_and_pages_through_older_alerts(ui: Ui) -> None:
    for number in range(53):
        ui.open_alert(listed_counterparty(f"cp-{number:03d}"))
    client = ui.as_("rob")
    first = client.get("/ui/queue")
    assert len(record_ids(first.text)) == 50
    assert "53 alerts match these filters" in first.text
    tiles = dict(re.findall(r'<span class="muted">([a-z ]+)</span><b>(\d+)</b>', first.text))
    assert tiles["active"] == "53" and tiles["open"] == "53" and tiles["closed"] == "0"
    older = re.search(r'href="(/ui/queue\?[^"]*before=\d+)"', first.text)
    assert older
    second = client.get(older.group(1).replace("&amp;", "&"))
    assert record_ids(second.text) == ["cp-002", "cp-001", "cp-000"]
    assert 'rel="next"' not in second.text


def test_the_alert_page_sets_the_record_beside_the_list_entry(ui: Ui) -> None:
    record = listed_counterparty("cp-9", name="OOO Vertical Alabuga", identifiers={"inn": "1646047791"})
    alert_id = ui.open_alert(record)
    page = ui.as_("rita").get(f"/ui/alerts/{alert_id}")
    assert page.status_code == 200
    html = page.text
    assert "OOO Vertical Alabuga" in html and "LIMITED LIABILITY COMPANY VERTIKAL ALABUGA" in html
    assert '<mark class="del">c</mark>' in html and '<mark class="ins">k</mark>' in html  # vertiCal / vertiKal
    assert "VERTIKAL ALABUGA LLC" in html  # an alias
    assert "RUSSIA-EO14024" in html  # the programme
    assert "1646047791" in html and "1646034493" in html  # both INNs, side by side
    assert re.search(r'<a href="https://[^"]+" rel="noopener noreferrer" target="_blank">', html)  # the source
    assert "listed-party-confident" in html and "Do not proceed" in html  # the flag's reason
    assert ui.as_("rita").get("/ui/alerts/999999").status_code == 404


def test_a_decision_needs_a_comment_and_is_recorded_with_it(ui: Ui) -> None:
    alert_id = ui.open_alert()
    match_id = get_alert(ui.database, alert_id).matches[0].id
    url = f"/ui/alerts/{alert_id}"
    action = f"{url}/matches/{match_id}/decide"
    refused = ui.post_form("rita", url, action, {"decision": "true_match", "comment": "  "})
    assert refused.status_code == 422
    assert "a comment is required" in refused.text
    assert get_alert(ui.database, alert_id).matches[0].decision is None
    done = ui.post_form("rita", url, action, {"decision": "true_match", "comment": "Same INN as the listing."})
    assert done.status_code == 303 and done.headers["location"].startswith(f"{url}?done=decided")
    page = ui.as_("rita").get(done.headers["location"])
    assert "Decision recorded." in page.text and "Same INN as the listing." in page.text
    detail = get_alert(ui.database, alert_id)
    assert (detail.summary.state, detail.matches[0].decision) == ("in_review", "true_match")
    closed = ui.post_form("rita", url, f"{url}/close", {"outcome": "confirmed_hit", "comment": "Listed buyer."})
    assert closed.status_code == 303 and "done=closed" in closed.headers["location"]
    assert get_alert(ui.database, alert_id).summary.outcome == "confirmed_hit"


def test_forms_without_the_session_csrf_token_change_nothing(ui: Ui) -> None:
    alert_id = ui.open_alert()
    match_id = get_alert(ui.database, alert_id).matches[0].id
    client = ui.as_("rita")
    action = f"/ui/alerts/{alert_id}/matches/{match_id}/decide"
    for token in (None, "forged", csrf_of(ui.as_("rob").get("/ui/queue").text)):  # missing, made up, another's
        data = {"decision": "true_match", "comment": "forged"} | ({"csrf_token": token} if token else {})
        response = client.post(action, data=data)
        assert response.status_code == 403, token
        assert "Form refused" in response.text
    assert get_alert(ui.database, alert_id).matches[0].decision is None


def test_four_eyes_the_proposer_cannot_approve_and_another_approver_can(ui: Ui) -> None:
    alert_id = ui.open_alert()
    url = f"/ui/alerts/{alert_id}"
    match_id = get_alert(ui.database, alert_id).matches[0].id
    assert ui.post_form("alex", url, f"{url}/matches/{match_id}/decide",
                        {"decision": "false_positive", "comment": "Another firm."}).status_code == 303
    proposed = ui.post_form("alex", url, f"{url}/close", {"outcome": "cleared", "comment": "Release."})
    assert "done=proposed" in proposed.headers["location"]
    page = ui.as_("alex").get(url).text
    assert "You proposed this clearance" in page
    own = ui.as_("alex").post(f"{url}/approval", data={"verdict": "approve", "comment": "self",
                                                        "csrf_token": csrf_of(page)})
    assert own.status_code == 403 and "four eyes" in own.text
    reviewer_only = ui.post_form("rita", url, f"{url}/approval", {"verdict": "approve", "comment": "me too"})
    assert reviewer_only.status_code == 403
    assert get_alert(ui.database, alert_id).summary.state != "closed"
    approved = ui.post_form("anna", url, f"{url}/approval", {"verdict": "approve", "comment": "Checked."})
    assert approved.status_code == 303 and "done=approved" in approved.headers["location"]
    detail = get_alert(ui.database, alert_id).summary
    assert (detail.state, detail.outcome) == ("closed", "cleared")
    history = ui.as_("anna").get(url).text
    assert "alex</b> · propose clearance" in history and "anna</b> · approve clearance" in history


def test_a_rejected_clearance_goes_back_to_review(ui: Ui) -> None:
    alert_id = ui.open_alert()
    url = f"/ui/alerts/{alert_id}"
    match_id = get_alert(ui.database, alert_id).matches[0].id
    ui.post_form("rita", url, f"{url}/matches/{match_id}/decide", {"decision": "false_positive", "comment": "No."})
    ui.post_form("rita", url, f"{url}/close", {"outcome": "cleared", "comment": "Release."})
    rejected = ui.post_form("anna", url, f"{url}/approval", {"verdict": "reject", "comment": "INN matches."})
    assert "done=rejected" in rejected.headers["location"]
    assert get_alert(ui.database, alert_id).summary.state == "in_review"


def test_allow_listing_a_false_positive_then_revoking_it(ui: Ui) -> None:
    alert_id = ui.open_alert()
    url = f"/ui/alerts/{alert_id}"
    match_id = get_alert(ui.database, alert_id).matches[0].id
    done = ui.post_form("rita", url, f"{url}/matches/{match_id}/decide",
                        {"decision": "false_positive", "comment": "A bakery.", "allow_list": "1",
                         "expires_days": "30"})
    assert "done=allow_listed" in done.headers["location"]
    (entry,) = list_allow_list(ui.database)
    assert (entry.entry_id, entry.alert_id, (entry.expires_at - entry.created_at).days) == ("ru-vertikal-alabuga",
                                                                                            alert_id, 30)
    page = ui.as_("rita").get("/ui/allow-list")
    assert "ru-vertikal-alabuga" in page.text and "A bakery." in page.text and "rita" in page.text
    no_reason = ui.post_form("rita", "/ui/allow-list", f"/ui/allow-list/{entry.id}/revoke", {"comment": ""})
    assert no_reason.status_code == 422
    revoked = ui.post_form("rob", "/ui/allow-list", f"/ui/allow-list/{entry.id}/revoke", {"comment": "Re-check."})
    assert revoked.status_code == 303
    assert list_allow_list(ui.database) == []
    assert "revoked" in ui.as_("rob").get("/ui/allow-list?show=all").text


def test_assign_escalate_start_and_reopen(ui: Ui) -> None:
    alert_id = ui.open_alert()
    url = f"/ui/alerts/{alert_id}"
    assert ui.post_form("rita", url, f"{url}/assign", {"assignee": "rob"}).status_code == 303
    assert get_alert(ui.database, alert_id).summary.assignee == "rob"
    assert ui.post_form("rita", url, f"{url}/escalate", {"comment": ""}).status_code == 422
    assert ui.post_form("rita", url, f"{url}/escalate", {"comment": "Needs legal."}).status_code == 303
    assert get_alert(ui.database, alert_id).summary.state == "escalated"
    assert ui.post_form("rob", url, f"{url}/start", {}).status_code == 303
    assert get_alert(ui.database, alert_id).summary.state == "in_review"
    ui.post_form("rob", url, f"{url}/close", {"outcome": "confirmed_hit", "comment": "Listed."})
    # A match must be true for a confirmed hit: the refusal is shown on the page.
    match_id = get_alert(ui.database, alert_id).matches[0].id
    ui.post_form("rob", url, f"{url}/matches/{match_id}/decide", {"decision": "true_match", "comment": "Same."})
    assert ui.post_form("rob", url, f"{url}/close", {"outcome": "confirmed_hit",
                                                     "comment": "Listed."}).status_code == 303
    assert "Reopen" not in ui.as_("rob").get(url).text  # reviewers may not reopen
    assert ui.post_form("anna", url, f"{url}/reopen", {"comment": "New evidence."}).status_code == 303
    assert get_alert(ui.database, alert_id).summary.state == "open"


def test_a_refused_action_says_why_on_the_alert_page(ui: Ui) -> None:
    alert_id = ui.open_alert()
    url = f"/ui/alerts/{alert_id}"
    ui.post_form("rita", url, f"{url}/start", {})
    refused = ui.post_form("rita", url, f"{url}/close", {"outcome": "cleared", "comment": "Looks fine."})
    assert refused.status_code == 409
    assert "Refused: decide every match before clearing" in refused.text


def test_bulk_actions_on_the_queue(ui: Ui) -> None:
    ids = [ui.open_alert(listed_counterparty(f"cp-{n}")) for n in range(3)]
    page = ui.as_("rita").get("/ui/queue").text
    client = ui.as_("rita")
    done = client.post("/ui/queue/bulk", data={"csrf_token": csrf_of(page), "action": "assign:rob",
                                                "alert_ids": [str(i) for i in ids[:2]], "back": "/ui/queue"})
    assert done.status_code == 303 and "done=bulk&count=2" in done.headers["location"]
    assert [get_alert(ui.database, i).summary.assignee for i in ids] == ["rob", "rob", None]
    escalate = client.post("/ui/queue/bulk", data={"csrf_token": csrf_of(page), "action": "escalate",
                                                    "alert_ids": [str(ids[2])], "comment": ""})
    assert escalate.status_code == 422
    nothing = client.post("/ui/queue/bulk", data={"csrf_token": csrf_of(page), "action": "start"})
    assert nothing.status_code == 422 and "Select at least one alert" in nothing.text


def test_the_dashboard_draws_its_charts(ui: Ui) -> None:
    alert_id = ui.open_alert()
    ui.open_alert(REVIEW_RECORD)
    url = f"/ui/alerts/{alert_id}"
    match_id = get_alert(ui.database, alert_id).matches[0].id
    ui.post_form("rita", url, f"{url}/matches/{match_id}/decide", {"decision": "false_positive", "comment": "No."})
    page = ui.as_("anna").get("/ui/dashboard")
    assert page.status_code == 200
    assert page.text.count("<svg") == 4
    assert "listed-party-confident" in page.text and "caspian-port-route" in page.text
    assert "100%" in page.text and "1 of 1" in page.text  # the false-positive rate of the rule decided
