"""The review queue at size: 10,000 alerts, paged through on SQLite and PostgreSQL; target < 200 ms a page.

    .venv/bin/python bench/review.py [--alerts 10000] [--page-size 50] [--stores sqlite,postgresql]

For each store it migrates a fresh store (a temporary SQLite file, or a scratch schema on the PostgreSQL
server named by SCREENING_TEST_POSTGRES_URL, dropped after), inserts ``--alerts`` alerts with realistic
results (a flag with two pieces of evidence, a match each; a mix of states, decisions, severities, rules and
assignees, opened over 90 days), then times, through the same ``list_alerts`` the API and UI call:

- paging the whole unfiltered queue with ``before_id`` (every page, first to last);
- the first five pages of each common filter (state, decision, rule, severity, assignee, unassigned, age);
- the state counts shown above the queue.

It prints p50, p95 and the worst page per case in milliseconds, and exits non-zero when any page is slower
than the target.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from service.review import AlertFilter, count_alerts, create_user, list_alerts
from service.store import Base, Database, new_screening_id, upgrade_database

TARGET_MS = 200.0
RULES = ["listed-party-confident", "listed-party-weak", "listed-vessel", "alabuga-address", "military-item",
         "caspian-port-route", "goods-to-iran", "priority-goods-to-embargoed"]
STATES = ["open"] * 5 + ["in_review"] * 2 + ["escalated"] + ["closed"] * 2


def _result(record_id: str, rule: str, decision: str, at: datetime, rng: random.Random) -> dict[str, Any]:
    evidence = [{"field": f"parties[{i}].name", "value": f"Party {rng.randrange(10**6)}", "kind": "party",
                 "matched": "LISTED NAME", "entry": f"entry-{rng.randrange(500)}", "list": "curated",
                 "score": 0.9, "method": "name-fuzzy", "suppressed_by": None} for i in range(2)]
    return {"record_id": record_id, "decision": decision, "risk_score": rng.randrange(40, 100),
            "flags": [{"rule": rule, "severity": "high", "action": decision, "title": rule, "reason": "bench",
                       "evidence": evidence, "sources": ["bench"], "suppressed": False}],
            "pack": {"name": "bench", "version": "1", "digest": "0" * 64}, "screened_at": at.isoformat()}


def fill(database: Database, count: int, seed: int = 7) -> list[int]:
    """Insert ``count`` alerts with two matches each; the ids of the users they are assigned to."""
    rng = random.Random(seed)
    users = [create_user(database, f"reviewer{n}", "bench passphrase long", ["reviewer"], actor="bench").id
             for n in range(5)]
    now = datetime.now(UTC)
    alerts = Base.metadata.tables["alerts"]
    matches = Base.metadata.tables["alert_matches"]
    batch = 1000
    with database.engine.begin() as connection:
        for start in range(0, count, batch):
            rows = []
            for number in range(start, min(count, start + batch)):
                at = now - timedelta(minutes=rng.randrange(90 * 24 * 60))
                rule = rng.choice(RULES)
                decision = rng.choice(["block", "review", "review"])
                state = rng.choice(STATES)
                record_id = f"rec-{number:06d}"
                rows.append({"record_id": record_id, "state": state,
                             "outcome": rng.choice(["cleared", "confirmed_hit"]) if state == "closed" else None,
                             "decision": decision, "severity": rng.choice(["critical", "high", "medium", "low"]),
                             "risk_score": rng.randrange(40, 100), "rules": f",{rule},", "result_digest": "0" * 64,
                             "pack_version": "1", "pack_digest": "0" * 64, "screening_id": new_screening_id(at),
                             "source": rng.choice(["api", "batch"]),
                             "record": {"id": record_id, "parties": [{"name": "x"}]},
                             "result": _result(record_id, rule, decision, at, rng),
                             "assignee_id": rng.choice([None, None, *users]), "proposed_outcome": None,
                             "proposed_by": None, "opened_at": at, "updated_at": at,
                             "closed_at": at if state == "closed" else None})
            ids = connection.execute(insert(alerts).returning(alerts.c.id), rows).scalars().all()
            connection.execute(insert(matches), [
                {"alert_id": alert_id, "rule": row["rules"].strip(","), "field": f"parties[{i}].name",
                 "value": f"Party {i}", "kind": "party", "entry": f"entry-{i}", "list_name": "curated",
                 "matched": "LISTED", "score": 0.9, "suppressed_by": None, "decision": None, "comment": None,
                 "decided_by": None, "decided_at": None, "allow_list_id": None}
                for alert_id, row in zip(ids, rows, strict=True) for i in range(2)])
    if database.dialect == "postgresql":
        with database.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    return users


def _timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = function()
    return (time.perf_counter() - started) * 1000, value


def page_through(database: Database, where: AlertFilter, page_size: int, max_pages: int | None) -> list[float]:
    times: list[float] = []
    before: int | None = None
    while True:
        elapsed, page = _timed(lambda b=before: list_alerts(database, where, limit=page_size, before_id=b))
        times.append(elapsed)
        before = page.next_before_id
        if before is None or (max_pages is not None and len(times) >= max_pages):
            return times


def _line(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (f"  {name:<34} pages {len(times):>4}  p50 {statistics.median(ordered):7.2f} ms  "
            f"p95 {p95:7.2f} ms  worst {ordered[-1]:7.2f} ms")


def run(database: Database, count: int, page_size: int) -> float:
    started = time.perf_counter()
    users = fill(database, count)
    print(f"  filled {count} alerts in {time.perf_counter() - started:.1f} s")
    worst = 0.0
    cases: list[tuple[str, AlertFilter, int | None]] = [
        ("whole queue, every page", AlertFilter(), None),
        ("state=open", AlertFilter(states=("open",)), 5),
        ("state=open,in_review,escalated", AlertFilter(states=("open", "in_review", "escalated")), 5),
        ("decision=block", AlertFilter(decision="block"), 5),
        ("rule=military-item", AlertFilter(rule="military-item"), 5),
        ("severity=critical, open", AlertFilter(severity="critical", states=("open",)), 5),
        ("assignee=reviewer0", AlertFilter(assignee_id=users[0]), 5),
        ("unassigned, open", AlertFilter(unassigned=True, states=("open",)), 5),
        ("older than 30 days, open", AlertFilter(opened_before=datetime.now(UTC) - timedelta(days=30),
                                                 states=("open",)), 5),
    ]
    page_through(database, AlertFilter(), page_size, 3)  # warm the pool and the caches
    for name, where, pages in cases:
        times = page_through(database, where, page_size, pages)
        worst = max(worst, max(times))
        print(_line(name, times))
    counts = [_timed(lambda: count_alerts(database))[0] for _ in range(5)]
    worst = max(worst, max(counts))
    print(_line("state counts", counts))
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--stores", default="sqlite,postgresql")
    args = parser.parse_args()
    worst = 0.0
    for store in args.stores.split(","):
        print(f"{store}: {args.alerts} alerts, {args.page_size} a page")
        if store == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
                upgrade_database(url)
                database = Database(url)
                try:
                    worst = max(worst, run(database, args.alerts, args.page_size))
                finally:
                    database.dispose()
        else:
            from tests.store.databases import postgres_test_url, postgres_unreachable_reason, scratch_postgres_schema

            base = os.environ.get("SCREENING_TEST_POSTGRES_URL", postgres_test_url())
            reason = postgres_unreachable_reason(base)
            if reason:
                print(f"  skipped: {reason}")
                continue
            with scratch_postgres_schema(base) as url:
                upgrade_database(url)
                database = Database(url)
                try:
                    worst = max(worst, run(database, args.alerts, args.page_size))
                finally:
                    database.dispose()
    verdict = "OK" if worst < TARGET_MS else "TOO SLOW"
    print(f"worst page {worst:.2f} ms (target < {TARGET_MS:.0f} ms): {verdict}")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
