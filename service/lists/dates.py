"""Dates as the lists write them -> ISO 8601 text (``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``).

Birth dates in the lists are often partial (a year, a month and year, "circa 1960", "1958 to 1962"); they are
kept as partial ISO strings rather than invented full dates.
"""

from __future__ import annotations

import re
from datetime import date

_MONTHS = {name: index for index, name in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}

_ISO = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2})(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?)?)?$")
_DAY_MONTH_YEAR = re.compile(r"^(?:(\d{1,2}) )?([A-Za-z]{3})[a-z]*\.? (\d{4})$")
_YEAR = re.compile(r"^(\d{4})$")
_SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_RANGE = re.compile(r"\s+(?:to|-|–)\s+")


def _iso(year: int, month: int | None = None, day: int | None = None) -> str | None:
    if not 1800 <= year <= 2100:
        return None
    if month is None:
        return f"{year:04d}"
    if not 1 <= month <= 12:
        return f"{year:04d}"
    if day is None:
        return f"{year:04d}-{month:02d}"
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return f"{year:04d}-{month:02d}"


def parse_date_text(text: str | None) -> str | None:
    """One date in any of the lists' spellings as partial ISO text; None when it is not a date.

    Handles ``1973-03-25``, ``21 Jan 1971``, ``Jan 1971``, ``1971``, ``circa 1971``, ``09/12/2022`` (day
    first, as the UK writes it) and ``00/00/1994`` (unknown day and month).
    """
    if not text:
        return None
    value = text.strip().rstrip(".")
    value = re.sub(r"^(?:circa|approximately|approx\.?|about|ca\.?)\s+", "", value, flags=re.IGNORECASE)
    if match := _ISO.match(value):
        year, month, day = match.groups()
        return _iso(int(year), int(month) if month and int(month) else None,
                    int(day) if day and int(day) else None)
    if match := _DAY_MONTH_YEAR.match(value):
        day, month_name, year = match.groups()
        month = _MONTHS.get(month_name.lower())
        if month is None:
            return None
        return _iso(int(year), month, int(day) if day else None)
    if match := _SLASHED.match(value):
        day, month, year = (int(part) for part in match.groups())
        return _iso(year, month or None, day or None) if month else _iso(year)
    return None


def parse_date_values(text: str | None) -> list[str]:
    """Every date in ``text``: a single date or a range such as ``1958 to 1962`` (both ends kept)."""
    if not text:
        return []
    parts = _RANGE.split(text.strip()) if not _ISO.match(text.strip()) else [text]
    return [parsed for part in parts if (parsed := parse_date_text(part))]


def parse_day_first(text: str | None) -> date | None:
    """A full date written ``DD/MM/YYYY`` (UK lists), or None."""
    if not text:
        return None
    match = _SLASHED.match(text.strip())
    if not match:
        return None
    day, month, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_iso_date(text: str | None) -> date | None:
    """The date part of an ISO date or timestamp (``2026-02-27T00:00:09.554Z``), or None."""
    if not text:
        return None
    match = _ISO.match(text.strip())
    if not match or not match.group(2) or not match.group(3):
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None
