"""The screening engine: pure matching and rule evaluation over a compiled pack."""

from service.engine.cases import CaseOutcome, run_cases
from service.engine.screener import Screener

__all__ = ["CaseOutcome", "Screener", "run_cases"]
