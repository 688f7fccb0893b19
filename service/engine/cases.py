"""Run a pack's rule cases: each record must fire (or must not fire) its rule."""

from __future__ import annotations

from dataclasses import dataclass

from service.engine.screener import Screener
from service.model import parse_record


@dataclass(frozen=True)
class CaseOutcome:
    rule: str
    case: str
    expected_fire: bool
    fired: bool
    decision: str
    reason: str

    @property
    def passed(self) -> bool:
        return self.expected_fire == self.fired


def run_cases(screener: Screener, rule_ids: set[str] | None = None) -> list[CaseOutcome]:
    """Screen every case record of the pack and report, per case, whether its rule fired as expected."""
    outcomes: list[CaseOutcome] = []
    for rule_id, spec in sorted(screener.pack.cases.items()):
        if rule_ids is not None and rule_id not in rule_ids:
            continue
        for case in spec.cases:
            result = screener.screen(parse_record(case.record))
            flag = next((f for f in result.flags if f.rule == rule_id), None)
            outcomes.append(CaseOutcome(rule=rule_id, case=case.name, expected_fire=case.fires,
                                        fired=flag is not None, decision=result.decision.value,
                                        reason=flag.reason if flag else ""))
    return outcomes
