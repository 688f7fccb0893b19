"""The dashboard's figures: open alerts by age and by rule, decisions per day, false-positive rate by rule.

Aggregates read straight from the alert tables (grouped in the database where SQL can do it portably), so
the page costs a few small queries however many alerts there are.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from markupsafe import Markup
from sqlalchemy import func, select

from service.review.web.charts import Series, bar_chart, column_chart
from service.store import Database
from service.store.tables import AlertMatchRow, AlertRow

#: Age buckets of open alerts: (label, lower bound inclusive, upper bound exclusive).
AGE_BUCKETS: tuple[tuple[str, timedelta, timedelta | None], ...] = (
    ("under 1 day", timedelta(0), timedelta(days=1)),
    ("1–7 days", timedelta(days=1), timedelta(days=7)),
    ("7–30 days", timedelta(days=7), timedelta(days=30)),
    ("over 30 days", timedelta(days=30), None),
)
CLOSED = "closed"


@dataclass(frozen=True)
class RuleRate:
    rule: str
    false_positives: int
    decided: int

    @property
    def rate(self) -> float:
        return self.false_positives / self.decided if self.decided else 0.0


@dataclass(frozen=True)
class DashboardFigures:
    open_by_state: dict[str, int]
    open_by_age: list[tuple[str, int]]
    open_by_rule: list[tuple[str, int]]
    days: list[date]
    true_matches_per_day: list[int]
    false_positives_per_day: list[int]
    fp_rate_by_rule: list[RuleRate]


def dashboard_figures(database: Database, *, days: int = 30, top_rules: int = 15,
                      now: datetime | None = None) -> DashboardFigures:
    """Everything the dashboard shows, as of ``now``."""
    moment = now or datetime.now(UTC)
    with database.session("reading dashboard figures") as session:
        by_state = dict(session.execute(
            select(AlertRow.state, func.count()).where(AlertRow.state != CLOSED).group_by(AlertRow.state)).all())
        by_age = []
        for label, lower, upper in AGE_BUCKETS:
            statement = select(func.count()).select_from(AlertRow).where(AlertRow.state != CLOSED,
                                                                         AlertRow.opened_at <= moment - lower)
            if upper is not None:
                statement = statement.where(AlertRow.opened_at > moment - upper)
            by_age.append((label, int(session.scalar(statement) or 0)))
        rules: Counter[str] = Counter()
        for (text,) in session.execute(select(AlertRow.rules).where(AlertRow.state != CLOSED)):
            rules.update(rule for rule in text.split(",") if rule)
        start = (moment - timedelta(days=days - 1)).date()
        decided = session.execute(
            select(AlertMatchRow.decided_at, AlertMatchRow.decision)
            .where(AlertMatchRow.decided_at.is_not(None),
                   AlertMatchRow.decided_at >= datetime(start.year, start.month, start.day, tzinfo=UTC))).all()
        rates = session.execute(
            select(AlertMatchRow.rule, AlertMatchRow.decision, func.count())
            .where(AlertMatchRow.decision.is_not(None)).group_by(AlertMatchRow.rule, AlertMatchRow.decision)).all()
    day_list = [start + timedelta(days=offset) for offset in range(days)]
    index = {day: position for position, day in enumerate(day_list)}
    true_matches, false_positives = [0] * days, [0] * days
    for decided_at, decision in decided:
        position = index.get(decided_at.astimezone(UTC).date()) if decided_at is not None else None
        if position is None:
            continue
        if decision == "false_positive":
            false_positives[position] += 1
        elif decision == "true_match":
            true_matches[position] += 1
    per_rule: dict[str, list[int]] = {}
    for rule, decision, count in rates:
        tally = per_rule.setdefault(rule, [0, 0])
        tally[1] += count
        if decision == "false_positive":
            tally[0] += count
    fp_rates = sorted((RuleRate(rule, fp, total) for rule, (fp, total) in per_rule.items()),
                      key=lambda r: (-r.rate, -r.decided, r.rule))
    return DashboardFigures({str(k): int(v) for k, v in by_state.items()}, by_age,
                            rules.most_common(top_rules), day_list, true_matches, false_positives,
                            fp_rates[:top_rules])


def dashboard_charts(figures: DashboardFigures) -> dict[str, Markup]:
    """The four charts of the dashboard page, as inline SVG."""
    return {
        "by_age": bar_chart([(label, float(n)) for label, n in figures.open_by_age], title="Open alerts by age",
                            colour="#b9770e") if any(n for _, n in figures.open_by_age)
        else bar_chart([], title="Open alerts by age"),
        "by_rule": bar_chart([(rule, float(n)) for rule, n in figures.open_by_rule], title="Open alerts by rule"),
        "over_time": column_chart(
            [day.strftime("%m-%d") for day in figures.days],
            [Series("true match", "#c0392b", figures.true_matches_per_day),
             Series("false positive", "#1e8449", figures.false_positives_per_day)],
            title="Match decisions per day"),
        "fp_rate": bar_chart([(r.rule, r.rate * 100) for r in figures.fp_rate_by_rule],
                             title="False-positive rate by rule", colour="#1e8449", value_format="{:.0f}%",
                             notes=[f"{r.false_positives} of {r.decided}" for r in figures.fp_rate_by_rule],
                             maximum=100),
    }
