"""The review bar of issue 6 in a real browser: log in, open the queue, open an alert, decide with a comment,
a second user approves, the alert is closed, and the audit trail shows both people.

Screenshots of the queue and the alert page are taken on every run (to the test's temporary folder); with
``SCREENING_UPDATE_SCREENSHOTS=1`` they replace ``docs/review-queue.png`` and ``docs/review-alert.png``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from service.engine import Screener
from service.model import parse_record
from service.review import AlertFilter, create_user, get_alert, list_alerts, list_audit, record_screening
from service.review.users import find_user
from service.store import new_screening_id
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent.parent
PASSWORD = "long enough passphrase 42"
TARGET = "cp-1042"

#: Records screened into the queue before the officers log in (the last one is the alert worked on).
RECORDS: list[dict[str, Any]] = [
    {"id": "ship-2207", "parties": [{"role": "seller", "name": "Nordic Components AB", "country": "SE"},
                                    {"role": "buyer", "name": "Demir Elektronik Ticaret Ltd", "country": "TR"}],
     "goods": [{"description": "FPGA Artix-7", "hs_code": "8542.39", "part_number": "XC7A35T-1CSG324C"}],
     "route": [{"role": "destination", "place": "Istanbul", "country": "TR"}]},
    {"id": "ship-2211", "parties": [{"role": "seller", "name": "Caspian Marine Supply LLC", "country": "AE"},
                                    {"role": "consignee", "name": "Makhachkala Trade House", "country": "RU"}],
     "goods": [{"description": "marine diesel engine spare parts", "hs_code": "8409.99"}],
     "route": [{"role": "port_of_loading", "place": "Amirabad", "country": "IR"},
               {"role": "port_of_discharge", "place": "Makhachkala", "country": "RU"}]},
    {"id": "cp-0977", "kind": "counterparty",
     "parties": [{"role": "counterparty", "name": "Kupol Izhevsk Electromechanical Plant", "country": "RU"}]},
    {"id": "cp-1013", "kind": "counterparty",
     "parties": [{"role": "counterparty", "name": "Qods Aviation Industries", "country": "IR"}]},
    {"id": TARGET, "kind": "counterparty",
     "parties": [{"role": "counterparty", "name": "OOO Vertical Alabuga", "country": "RU",
                  "identifiers": {"inn": "1646047791"}}]},
]


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer, screener: Screener) -> LiveServer:
    database = live_server.database
    create_user(database, "rita", PASSWORD, ["reviewer"], actor="test")
    create_user(database, "anna", PASSWORD, ["approver"], actor="test")
    for record in RECORDS:
        result = screener.screen(parse_record(record))
        record_screening(database, screening_id=new_screening_id(), source="api", record=record, result=result)
    return live_server


def log_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/ui/queue")
    assert "/ui/login" in page.url
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/ui/queue")


def save_screenshot(page: Any, name: str, tmp_path: Path, **options: Any) -> Path:
    shot = tmp_path / name
    page.screenshot(path=str(shot), **options)
    assert shot.stat().st_size > 10_000
    if os.environ.get("SCREENING_UPDATE_SCREENSHOTS") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, ROOT / "docs" / name)
    return shot


def test_decide_then_a_second_person_approves_the_clearance(seeded: LiveServer, browser: Any, tmp_path: Path) -> None:
    base = seeded.url
    reviewer = browser.new_context(viewport={"width": 1280, "height": 900})
    page = reviewer.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    # The reviewer logs in and sees the queue.
    log_in(page, base, "rita")
    rows = page.locator("table.grid tbody tr")
    assert rows.count() == len(RECORDS)
    assert page.locator(".tile.current b").inner_text() == str(len(RECORDS))
    save_screenshot(page, "review-queue.png", tmp_path)

    # She opens the alert: the record's value beside the list entry, differing characters highlighted.
    page.click(f"text={TARGET}")
    page.wait_for_url(f"{base}/ui/alerts/*")
    alert_id = int(page.url.rsplit("/", 1)[1])
    match = page.locator("section.match").first
    assert "OOO Vertical Alabuga" in match.inner_text()
    assert "VERTIKAL ALABUGA" in match.inner_text()
    assert match.locator(".diff mark").count() >= 2
    assert match.locator("a[target=_blank]").count() >= 1  # the entry's source, linked
    save_screenshot(page, "review-alert.png", tmp_path, full_page=True)

    # She decides the match a false positive, with a comment, then proposes clearing the blocked record.
    match.locator("input[value=false_positive]").check()
    match.locator("textarea[name=comment]").fill("Different company: INN 1646047791 is a bakery in Kazan, not "
                                                 "the listed Alabuga firm.")
    match.locator("button[type=submit]").click()
    page.wait_for_url("**done=decided**")
    assert "Decision recorded." in page.inner_text("main")
    page.check("form[action$='/close'] input[value=cleared]")
    page.fill("#outcome-comment", "Only match was a false positive; release the payment.")
    page.click("form[action$='/close'] button[type=submit]")
    page.wait_for_url("**done=proposed**")
    assert "needs approval" in page.inner_text("main")
    # Four eyes: she cannot approve her own proposal.
    assert page.locator("form[action$='/approval'] button[value=approve]").is_disabled()

    # The approver, in another browser session, approves it.
    approver = browser.new_context(viewport={"width": 1280, "height": 900})
    second = approver.new_page()
    log_in(second, base, "anna")
    second.goto(f"{base}/ui/alerts/{alert_id}")
    second.fill("#approve-comment", "Checked the INN against the register; agreed.")
    second.click("form[action$='/approval'] button[value=approve]")
    second.wait_for_url("**done=approved**")
    head = second.inner_text(".alert-head")
    assert "closed" in head and "cleared" in head
    history = second.inner_text("ol.history")
    assert "rita · propose clearance" in history
    assert "anna · approve clearance" in history

    # The store agrees, and the audit trail names both people.
    detail = get_alert(seeded.database, alert_id)
    assert (detail.summary.state, detail.summary.outcome) == ("closed", "cleared")
    rita, anna = (f"user:{find_user(seeded.database, name).id}" for name in ("rita", "anna"))
    trail = [(entry.actor, entry.action) for entry in list_audit(seeded.database)
             if entry.object_type == "alert" and entry.object_id == str(alert_id)]
    assert (rita, "alert.decide") in trail
    assert (rita, "alert.propose_clearance") in trail
    assert (anna, "alert.approve_clearance") in trail
    assert errors == []
    reviewer.close()
    approver.close()


def test_the_queue_filters_without_javascript(seeded: LiveServer, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, seeded.url, "anna")
    page.select_option("select[name=decision]", "review")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**decision=review**")
    shown = page.inner_text("table.grid tbody")
    review_ids = {a.record_id for a in list_alerts(seeded.database, AlertFilter(decision="review")).items}
    assert review_ids and all(record_id in shown for record_id in review_ids)
    assert "cp-0977" not in shown
    context.close()
