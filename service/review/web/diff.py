"""Character-level comparison of a record's value with a list entry's value, for the alert page.

Both sides are first brought to the matcher's normal form (``service.engine.normalise.fold``: one script,
no case, no accents, no punctuation), because that is what was compared; showing raw differences in case or
punctuation would point the officer at differences the matcher ignored. ``difflib`` then marks the
characters that differ on each side.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher

from service.engine.normalise import fold


@dataclass(frozen=True)
class Segment:
    """A run of characters of one side, and whether it differs from the other side."""

    text: str
    changed: bool


@dataclass(frozen=True)
class Comparison:
    """The two normalised values, split into segments, and how similar they are (0 to 1)."""

    record: list[Segment]
    entry: list[Segment]
    ratio: float

    @property
    def identical(self) -> bool:
        return not any(s.changed for s in self.record) and not any(s.changed for s in self.entry)


def _segments(text: str, spans: list[tuple[int, int, bool]]) -> list[Segment]:
    merged: list[Segment] = []
    for start, end, changed in spans:
        if start == end:
            continue
        piece = text[start:end]
        if merged and merged[-1].changed == changed:
            merged[-1] = Segment(merged[-1].text + piece, changed)
        else:
            merged.append(Segment(piece, changed))
    return merged


def compare_values(record_value: str, entry_value: str) -> Comparison:
    """Normalise both values and mark the characters that differ on each side."""
    left, right = fold(record_value), fold(entry_value)
    matcher = SequenceMatcher(None, left, right, autojunk=False)
    left_spans: list[tuple[int, int, bool]] = []
    right_spans: list[tuple[int, int, bool]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        same = tag == "equal"
        left_spans.append((i1, i2, not same))
        right_spans.append((j1, j2, not same))
    return Comparison(_segments(left, left_spans), _segments(right, right_spans), round(matcher.ratio(), 3))


def closest_value(record_value: str, candidates: Iterable[str]) -> str | None:
    """The candidate (entry name or alias) most similar to the record's value after normalisation.

    The engine reports which list value it matched; this picks one when it did not (or to show the nearest
    alias of a goods or port entry)."""
    target = fold(record_value)
    best: tuple[float, str] | None = None
    for candidate in candidates:
        ratio = SequenceMatcher(None, target, fold(candidate), autojunk=False).ratio()
        if best is None or ratio > best[0]:
            best = (ratio, candidate)
    return best[1] if best else None
